using Microsoft.Extensions.Logging.Abstractions;
using Thaw.Resources;
using Thaw.Resources.Roots;
using Thaw.Tests.Support;

namespace Thaw.Tests.Resources.Roots;

/// <summary>One small root pool (1 MiB scratch) and a function code dir, shared by a test class.</summary>
public sealed class RootPoolFixture : IDisposable
{
    public const int Size = 2;
    public const long ScratchBytes = 1 << 20;

    public RootPoolFixture()
    {
        Naming = TestInstance.NewNaming();
        Pool = new RootPool(Naming, new RootPoolOptions { Size = Size, TmpSizeBytes = ScratchBytes, HostSizeBytes = ScratchBytes }, NullLogger.Instance);
        CodeDir = TestInstance.NewTempDir("thaw-code-");
        File.WriteAllText(Path.Combine(CodeDir, "handler.py"), "def handler(event):\n    return event\n");
        Assert.True(Pool.Pool.WaitUntilFull(TimeSpan.FromSeconds(10)));
    }

    public ThawNaming Naming { get; }

    public RootPool Pool { get; }

    public string CodeDir { get; }

    /// <summary>
    /// Releases <paramref name="roots"/> and waits until the worker has dealt with them (recycled,
    /// or destroyed when the pool had refilled meanwhile) and the pool is full again.
    /// </summary>
    public void ReleaseAndSettle(params Thaw.Resources.Roots.SandboxRoot[] roots)
    {
        long handled = Handled();
        foreach (var root in roots)
            Pool.Release(root);
        WaitFor(() => Handled() >= handled + roots.Length);
    }

    /// <summary>Waits until the pool holds its target with nothing lent out.</summary>
    public void WaitUntilFull() => WaitFor(() => true);

    /// <summary>Released roots the worker has finished with, recycled or destroyed.</summary>
    public long Handled() => Pool.Stats() is var s ? s.Recycled + s.Destroyed : 0;

    /// <summary>Waits until the worker has handled more released roots than <paramref name="before"/> and the pool is full.</summary>
    public void WaitUntilHandledAfter(long before) => WaitFor(() => Handled() > before);

    private void WaitFor(Func<bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        // Released roots go back to the pool up to twice its target (recycled, not re-crafted).
        while (!(done() && Pool.Stats() is { Level: >= Size and <= 2 * Size, InUse: 0 }) && DateTime.UtcNow < deadline)
            Thread.Sleep(2);
        Assert.True(done());
        Assert.InRange(Pool.Stats().Level, Size, 2 * Size);
        Assert.Equal(0, Pool.Stats().InUse);
    }

    public void Dispose()
    {
        Pool.Dispose();
        Directory.Delete(Naming.StateDir, recursive: true);
        Directory.Delete(CodeDir, recursive: true);
    }
}
