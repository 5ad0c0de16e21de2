namespace Thaw.Cli.Bench.Startup;

/// <summary>A system whose sandbox start `thaw bench startup` times: one /bin/true, request to exit.</summary>
internal interface IStartupSystem : IDisposable
{
    /// <summary>"thaw", "runc", "docker" (and Thaw's measured alternatives).</summary>
    string Name { get; }

    /// <summary>Runs one sandboxed /bin/true to its exit; returns its latency in ms. Thread-safe.</summary>
    double RunOnce(int slot);

    /// <summary>Lets the system settle between bursts (Thaw: pools refilled).</summary>
    void Settle();
}
