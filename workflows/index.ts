/** Entry point the worker bundles: every workflow type of the task queue. */
export { inviteWorkflow } from './invite';
