// A fake Open WebUI on 127.0.0.1:0 for the app test: password sign-in, the model list and
// chat completions, with a switch that "revokes" the account (sign-in refused, tokens 401).
import { createServer } from 'node:http';

export const ACCOUNT = { email: 'ada@example.com', password: 'correct horse battery staple' };
export const MODELS = [
  { id: 'fake-llama:latest', name: 'Fake Llama' },
  { id: 'fake-qwen:8b', name: 'Fake Qwen' },
];

export async function startFakeOpenWebUI() {
  const state = { revoked: false, token: 'token-1', requests: [] };
  const send = (res, status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const authorized = (req) => !state.revoked && req.headers.authorization === `Bearer ${state.token}`;
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => { raw += c; });
    req.on('end', () => {
      state.requests.push({ method: req.method, url: req.url });
      const body = raw ? JSON.parse(raw) : {};
      if (req.method === 'POST' && req.url === '/api/v1/auths/signin') {
        if (state.revoked || body.email !== ACCOUNT.email || body.password !== ACCOUNT.password) {
          return send(res, 400, { detail: 'The email or password provided is incorrect. Please check for typos and try logging in again.' });
        }
        return send(res, 200, { token: state.token, token_type: 'Bearer', expires_at: null, role: 'user', email: ACCOUNT.email });
      }
      if (!authorized(req)) return send(res, 401, { detail: 'Not authenticated' });
      if (req.method === 'GET' && req.url === '/api/models') return send(res, 200, { data: MODELS });
      if (req.method === 'POST' && req.url === '/api/chat/completions') {
        return send(res, 200, {
          id: 'c1', object: 'chat.completion', created: 1, model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content: 'hello from fake' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 },
        });
      }
      return send(res, 404, { detail: 'Not Found' });
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, state, close: () => new Promise((r) => server.close(r)) };
}
