import { findProvider, calcPrice } from '@pydantic/genai-prices';
import fs from 'fs';
const map = {openai:'openai',anthropic:'anthropic',gemini:'google',mistral:'mistral',deepseek:'deepseek',xai:'x-ai',groq:'groq',together_ai:'together',fireworks_ai:'fireworks'};
const ms = JSON.parse(fs.readFileSync('/tmp/tg_models.json'));
for (const [prov, model] of ms) {
  const r = calcPrice({input_tokens: 1000, output_tokens: 1000}, model, {providerId: map[prov]});
  console.log(prov.padEnd(12), model.padEnd(50), r ? `${r.model.id} :: ${JSON.stringify(r.model_price)}` : 'NONE');
}
