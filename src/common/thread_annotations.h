// Clang thread-safety annotations (-Wthread-safety; see
// https://clang.llvm.org/docs/ThreadSafetyAnalysis.html). With Clang they let
// the compiler prove that a field marked GUARDED_BY(mu) is only touched with
// mu held, and that a function marked REQUIRES(mu) is only called so; with
// other compilers they expand to nothing. Use them with the annotated types of
// common/mutex.h (std::mutex carries no annotations in libstdc++).
#pragma once

#if defined(__clang__)
#define TOLLGATE_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define TOLLGATE_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) TOLLGATE_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY TOLLGATE_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) TOLLGATE_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) TOLLGATE_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) TOLLGATE_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) TOLLGATE_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define REQUIRES(...) TOLLGATE_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) TOLLGATE_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) TOLLGATE_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) TOLLGATE_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) TOLLGATE_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) TOLLGATE_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define RELEASE_GENERIC(...) TOLLGATE_THREAD_ANNOTATION(release_generic_capability(__VA_ARGS__))
#define EXCLUDES(...) TOLLGATE_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) TOLLGATE_THREAD_ANNOTATION(assert_capability(x))
#define RETURN_CAPABILITY(x) TOLLGATE_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS TOLLGATE_THREAD_ANNOTATION(no_thread_safety_analysis)
