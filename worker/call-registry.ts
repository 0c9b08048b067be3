/** The live calls of this process, by callId. Knows nothing of what a call does. */
export interface RegisteredCall {
  readonly callId: string;
  end(reason: string): void;
}

export class CallRegistry<T extends RegisteredCall = RegisteredCall> {
  private readonly calls = new Map<string, T>();
  private emptyWaiters: (() => void)[] = [];

  get size(): number {
    return this.calls.size;
  }

  get(callId: string): T | undefined {
    return this.calls.get(callId);
  }

  has(callId: string): boolean {
    return this.calls.has(callId);
  }

  add(call: T): void {
    this.calls.set(call.callId, call);
  }

  /** Removes the call if it is still the one registered under its id. */
  remove(call: T): void {
    if (this.calls.get(call.callId) === call) this.calls.delete(call.callId);
    if (this.calls.size === 0) {
      const waiters = this.emptyWaiters;
      this.emptyWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  all(): T[] {
    return [...this.calls.values()];
  }

  /** Resolves once no call is left. */
  whenEmpty(): Promise<void> {
    if (this.calls.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.emptyWaiters.push(resolve));
  }

  endAll(reason: string): void {
    for (const call of this.all()) call.end(reason);
  }
}
