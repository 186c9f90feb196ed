#!/usr/bin/env node
// The `meter` CLI is TypeScript run through tsx, so `npx meter` works straight after `npm install`.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { register } = await import('tsx/esm/api');
register();
await import('../cli/main.ts');
