using System.Diagnostics;
using Thaw.Runtimes;
using Thaw.Runtimes.Python;
using Thaw.Sandboxes;
using Thaw.Service.Functions;
using Thaw.Service.Metrics;

namespace Thaw.Service.Scheduling;

/// <summary>
/// One call, top to bottom: a sandbox from the handler cache (warm, or cold: pool claims, fork from
/// the function's zygote, handler import), the event over its invoke socket, the result back, the
/// sandbox returned for the next call. A call past its timeout kills its sandbox and starts a
/// replacement; a sandbox that died (OOM, crash) is dropped; every outcome is counted and timed.
/// </summary>
public sealed class Invoker(HandlerCache cache, ExecInvoker exec, ThawMetrics metrics, Func<string, FunctionLog> logs)
{
    /// <summary>Makes one call; the caller calls <see cref="CallResult.Release"/> once its reply is sent (a sandbox not kept stops then).</summary>
    public async Task<CallResult> InvokeAsync(string function, ReadOnlyMemory<byte> eventJson, CancellationToken token)
    {
        // An exec function runs a fresh sandbox per call: no warm sandbox to look for.
        if (cache.Get(function)?.Current.Manifest.Runtime == "exec")
            return await exec.InvokeAsync(function, eventJson, token).ConfigureAwait(false);
        long requested = Stopwatch.GetTimestamp();
        for (int redelivered = 0; ; redelivered++)
        {
            SandboxLease lease;
            try
            {
                // The event goes along: a sandbox started for this call gets it ahead of its ready frame.
                lease = await cache.AcquireAsync(function, token, eventJson).ConfigureAwait(false);
            }
            catch (Exception e) when (CountedRefusal(metrics, e))
            {
                throw; // never: the filter only counts
            }
            catch (FunctionStartException e)
            {
                metrics.Invocation(function, cold: true, "start_failed");
                int version = cache.Get(function)?.Current.Version ?? 0;
                logs(function).Note(version, $"sandbox failed to start ({e.Phase}): {e.Message}\n{e.Traceback}".TrimEnd());
                throw new CallFailedException(e, cold: true, version, null, CallFailedException.Total(Stopwatch.GetElapsedTime(requested).TotalMilliseconds));
            }
            var sandbox = lease.Sandbox;
            var deployment = sandbox.Deployment;
            long called = Stopwatch.GetTimestamp();
            Invocation invocation;
            try
            {
                // Not the caller's token: a call abandoned mid-way would leave the sandbox's reply in its socket.
                invocation = await sandbox.Python.InvokeAsync(eventJson, deployment.Manifest.Timeout, CancellationToken.None).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                cache.Release(lease, healthy: false);
                cache.Replace(function);
                metrics.Timeout(function);
                metrics.Invocation(function, lease.Cold, "timeout");
                logs(function).Note(deployment.Version, $"call timed out after {Units.FormatDuration(deployment.Manifest.Timeout)}; sandbox {sandbox.Id} killed and replaced");
                throw Failed(new CallTimeoutException(function, deployment.Manifest.Timeout), lease, called, requested);
            }
            catch (SandboxGoneException e) when (!e.Delivered && redelivered < cache.Options.Redeliveries)
            {
                // It died before it read the call: another sandbox gets it, and the caller never knows.
                cache.Release(lease, healthy: false);
                logs(function).Note(deployment.Version, $"{e.Message}; the call had not reached it and went to another sandbox");
                continue;
            }
            catch (SandboxGoneException e)
            {
                cache.Release(lease, healthy: false);
                if (e.Fault == SandboxFault.BrokenProtocol)
                    cache.Replace(function); // killed by thawd, like a timed-out one
                metrics.Invocation(function, lease.Cold, e.Fault.Code());
                logs(function).Note(deployment.Version, e.Message);
                throw Failed(e, lease, called, requested);
            }
            catch
            {
                // Whatever else went wrong, the sandbox must not stay counted busy (its slot and budget share).
                cache.Release(lease, healthy: false);
                throw;
            }
            return Completed(function, lease, invocation, called, requested);
        }
    }

    /// <summary>A call its sandbox answered: the sandbox goes back to the cache, the outcome is counted and timed.</summary>
    private CallResult Completed(string function, SandboxLease lease, Invocation invocation, long called, long requested)
    {
        var sandbox = lease.Sandbox;
        var deployment = sandbox.Deployment;
        double callMs = Stopwatch.GetElapsedTime(called).TotalMilliseconds;
        // Back in the cache now (the client's next call may arrive before this reply is flushed);
        // only the teardown of a sandbox that is not kept waits for the reply.
        var stopLater = cache.Release(lease, healthy: true, deferStop: true);
        double totalMs = Stopwatch.GetElapsedTime(requested).TotalMilliseconds;
        if (invocation.Error is { } error)
            logs(function).Note(deployment.Version, $"handler raised {error.Type}: {error.Message}\n{error.Traceback}".TrimEnd());
        var phases = Phases(lease, callMs, invocation.HandlerMs, totalMs);
        Record(metrics, function, lease.Cold, invocation.Succeeded ? "ok" : "handler_error", phases);
        return new CallResult(invocation, function, deployment.Version, sandbox.Id, lease.Cold, ZygoteNames.GetValue(sandbox.Python.ForkedFrom, z => ZygoteName(z.Modules)), phases).WithRelease(stopLater);
    }

    /// <summary>A call that failed once it had its sandbox: what its reply still says (cold or warm, its phases).</summary>
    private static CallFailedException Failed(Exception reason, SandboxLease lease, long called, long requested) =>
        new(reason, lease.Cold, lease.Sandbox.Deployment.Version, lease.Sandbox.Id,
            Phases(lease, Stopwatch.GetElapsedTime(called).TotalMilliseconds, double.NaN, Stopwatch.GetElapsedTime(requested).TotalMilliseconds));

    /// <summary>
    /// An exception filter that counts a refused call (queue full, memory budget) before it becomes a
    /// 429 or 503, and lets every exception through (false): no wrapper on the call's path.
    /// </summary>
    internal static bool CountedRefusal(ThawMetrics metrics, Exception e)
    {
        if (e is QueueFullException)
            metrics.Rejected("queue_full");
        else if (e is MemoryBudgetException)
            metrics.Rejected("memory_budget");
        return false;
    }

    /// <summary>Each zygote's name, made once: its module list can be hundreds long, and every call's reply names it.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Thaw.Sandboxes.Zygotes.Zygote, string> ZygoteNames = new();

    /// <summary>"root", or the top-level packages the zygote imported (its modules, as reported, can be hundreds).</summary>
    private static string ZygoteName(IReadOnlyList<string> modules) => modules.Count == 0 ? "root"
        : string.Join(',', modules.Select(m => m[(m.IndexOf(':', StringComparison.Ordinal) + 1)..].Split('.')[0]).Distinct().Order(StringComparer.Ordinal));

    private static CallPhases Phases(SandboxLease lease, double callMs, double handlerMs, double totalMs)
    {
        if (!lease.Cold)
            return new CallPhases(lease.QueueMs, double.NaN, double.NaN, double.NaN, double.NaN, lease.ThawMs, callMs, handlerMs, totalMs);
        var python = lease.Sandbox.Python;
        var t = python.Sandbox.Timings;
        double claim = SandboxTimings.Ms(t.Requested, t.Claimed);
        // Fork: the rest of the start that was neither a pool claim nor the handler's import (zygote
        // fork, sandbox entry, the runtime's ready); the zygote's "started" event can arrive after
        // the sandbox's ready frame, so it is derived rather than read from that timestamp.
        double fork = Math.Max(0, lease.StartMs - claim - python.InitMs);
        return new CallPhases(lease.QueueMs, claim, fork, python.InitMs, lease.StartMs, double.NaN, callMs, handlerMs, totalMs);
    }

    /// <summary>A finished call's outcome and its phases (NaN ones are not observed).</summary>
    internal static void Record(ThawMetrics metrics, string function, bool cold, string outcome, CallPhases p)
    {
        metrics.Invocation(function, cold, outcome);
        metrics.Phase("queue", p.Queue);
        metrics.Phase("call", p.Call);
        if (cold)
        {
            metrics.Phase("claim", p.Claim);
            metrics.Phase("fork", p.Fork);
            metrics.Phase("init", p.Init);
            metrics.Phase("start", p.Start);
            metrics.Phase("total_cold", p.Total);
        }
        else
        {
            if (p.Thaw > 0)
                metrics.Phase("thaw", p.Thaw);
            metrics.Phase("total_warm", p.Total);
        }
    }
}
