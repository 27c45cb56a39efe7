/**
 * Telling "Temporal did not answer" (unreachable, overloaded, past the deadline) from an answer,
 * for the API (503) and the CLI (exit 4). Both put deadlines on every call, so a missing worker
 * or server shows up here rather than as a hang.
 */
import {
  isGrpcServiceError,
  ServiceError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';

/** gRPC status codes that matter here (the numbers are fixed by the gRPC specification). */
export const GRPC = {
  CANCELLED: 1,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  UNAVAILABLE: 14,
} as const;

/** The gRPC status code of a failed call, if it has one. */
export function grpcCode(err: unknown): number | undefined {
  const cause = err instanceof ServiceError ? err.cause : err;
  return isGrpcServiceError(cause) ? cause.code : undefined;
}

/** True when a call ran out of time (its deadline passed, or it was cancelled). */
export function isDeadline(err: unknown): boolean {
  const code = grpcCode(err);
  return code === GRPC.DEADLINE_EXCEEDED || code === GRPC.CANCELLED;
}

/** True when Temporal did not answer: unreachable, overloaded, or not in time. */
export function isUnavailable(err: unknown): boolean {
  const code = grpcCode(err);
  return (
    err instanceof WorkflowUpdateRPCTimeoutOrCancelledError ||
    isDeadline(err) ||
    code === GRPC.UNAVAILABLE ||
    code === GRPC.RESOURCE_EXHAUSTED
  );
}
