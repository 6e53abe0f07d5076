import { calcPrice } from '@pydantic/genai-prices';
const ts = new Date('2026-11-23T12:00:00Z');
console.log(calcPrice({input_tokens: 5000, output_tokens: 9000, output_reasoning_tokens: 8000}, 'o3', {providerId:'openai', timestamp: ts}));
console.log(calcPrice({input_tokens: 47000, cache_read_tokens: 30000, cache_write_tokens: 15000, cache_write_5m_tokens: 10000, cache_write_1h_tokens: 5000, output_tokens: 1500}, 'claude-sonnet-4-5', {providerId:'anthropic', timestamp: ts}).total_price, (2000*3+30000*0.3+10000*3.75+5000*6+1500*15)/1e6);
console.log(calcPrice({input_tokens: 50000, cache_read_tokens: 40000, output_tokens: 1000}, 'llama-3.3-70b-versatile', {providerId:'groq', timestamp: ts}).total_price, (50000*0.59+1000*0.79)/1e6);
