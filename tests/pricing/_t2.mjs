import { findProvider } from '@pydantic/genai-prices';
for (const pid of ['mistral','fireworks','x-ai','together','groq']) {
  const p = findProvider({providerId: pid});
  for (const m of p.models) {
    const s = JSON.stringify(m.prices);
    if (/small|medium|large|llama|grok-4|kimi|deepseek|gpt-oss|qwen3-next/i.test(m.id)) console.log(pid, m.id, JSON.stringify(m.match).slice(0,150), s.slice(0,300));
  }
}
