using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Thaw.Resources;
using Thaw.Sandboxes;

namespace Thaw.Cli.Bench.Startup;

/// <summary>
/// Thaw's cold start through the real path (pool pops, a spawn request with fds, the zygote's
/// helper or fork), timed from the request to thawd learning of /bin/true's exit.
/// </summary>
internal sealed class ThawSystem(string name, ResourceHost host, SandboxOptions options, ILogger logger) : IStartupSystem
{
    private static readonly SandboxSpec TrueSpec = new() { Argv = ["/bin/true"] };
    private readonly SandboxSpawner _spawner = new(host, options, logger);

    public string Name => name;

    public double RunOnce(int slot)
    {
        long start = Stopwatch.GetTimestamp();
        var sandbox = _spawner.RunAsync(TrueSpec).GetAwaiter().GetResult();
        var exit = sandbox.Exited.GetAwaiter().GetResult();
        if (exit.ExitCode != 0)
            throw new InvalidOperationException($"thaw: /bin/true ended with {exit}");
        return Stopwatch.GetElapsedTime(start, exit.ExitedAt).TotalMilliseconds;
    }

    /// <summary>
    /// Pools full, then the same 50 ms of idle runc and Docker get between bursts: the kernel's
    /// deferred teardown of the last burst (RCU callbacks, namespace frees on workqueues) is done, as
    /// before a production cold start after idle, and does not land in the next burst.
    /// </summary>
    public void Settle()
    {
        foreach (var pool in host.Pools())
            pool.WaitUntilFull(TimeSpan.FromSeconds(30));
        Thread.Sleep(50);
    }

    public void Dispose() => _spawner.DisposeAsync().AsTask().GetAwaiter().GetResult();
}
