/**
 * Event hooks: run a program or call a webhook when Ballast announces a
 * state change (see docs/hooks.md). The runtime feeds every event of its
 * EventBus to one `HookDispatcher`.
 */
export { HookDispatcher, backoff, DROP_WARNING_INTERVAL, type HookDispatcherOptions } from './dispatcher.js';
export { runExec, OUTPUT_LIMIT } from './exec.js';
export { postWebhook, webhookHeaders } from './webhook.js';
export { buildPayload, hookEnvironment, type Delivery, type DeliveryOutcome, type CapturedOutput } from './delivery.js';
export {
  HOOK_EVENT_TYPES,
  MAX_RETRY_DELAY,
  type ExecHookAction,
  type HookAction,
  type HookConfig,
  type HookLogger,
  type HookPayload,
  type HookStats,
  type WebhookHookAction,
} from './types.js';
