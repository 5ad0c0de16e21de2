using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Thaw.Linux.Mounts;
using Thaw.Resources;
using Thaw.Resources.Roots;
using Thaw.Tests.Support;
using Xunit.Abstractions;

namespace Thaw.Tests.Resources.Roots;

/// <summary>Pools made and dropped whole: each test has an instance of its own.</summary>
public sealed class RootPoolLifecycleTests : IDisposable
{
    private readonly ThawNaming _naming = TestInstance.NewNaming();
    private readonly string _code = TestInstance.NewTempDir("thaw-code-");

    private readonly ITestOutputHelper _output;

    public RootPoolLifecycleTests(ITestOutputHelper output)
    {
        _output = output;
        File.WriteAllText(Path.Combine(_code, "handler.py"), "def handler(event):\n    return event\n");
    }

    private RootPool NewPool(int size) =>
        new(_naming, new RootPoolOptions { Size = size, TmpSizeBytes = 1 << 20, HostSizeBytes = 1 << 20 }, NullLogger.Instance);

    [Fact]
    public void Dispose_leaves_no_mount_and_no_dir_even_with_roots_claimed()
    {
        var pool = NewPool(3);
        Assert.True(pool.Pool.WaitUntilFull(TimeSpan.FromSeconds(10)));
        var claimed = pool.Claim(_code, _code);
        Assert.True(MountTable.Read().MountPointsUnder(_naming.StateDir).Count > 3 * 4);
        Assert.Contains(_naming.RootsDir, MountTable.Read().MountPointsUnder(_naming.StateDir)); // the private mount

        pool.Dispose();

        Assert.Empty(MountTable.Read().MountPointsUnder(_naming.StateDir));
        Assert.False(Directory.Exists(_naming.RootsDir));
        Assert.False(Path.Exists(claimed.Path));
        Assert.True(File.Exists(Path.Combine(_code, "handler.py"))); // the bound code dir survived
    }

    [Fact]
    public void Roots_dir_is_a_private_mount()
    {
        using var pool = NewPool(1);

        var entry = MountTable.Read().MountsUnder(_naming.RootsDir)[^1];

        Assert.Equal(_naming.RootsDir, entry.MountPoint);
        Assert.DoesNotContain("shared:", entry.Propagation, StringComparison.Ordinal);
        Assert.DoesNotContain("master:", entry.Propagation, StringComparison.Ordinal);
    }

    [Fact]
    public void Recovery_removes_the_roots_of_a_pool_that_was_never_disposed()
    {
        var crashed = NewPool(2);
        Assert.True(crashed.Pool.WaitUntilFull(TimeSpan.FromSeconds(10)));
        var inUse = crashed.Claim(_code);
        // Once full again the worker sleeps until the next claim: the pool is as good as crashed.
        Assert.True(crashed.Pool.WaitUntilFull(TimeSpan.FromSeconds(10)));
        int before = MountTable.Read().MountPointsUnder(_naming.RootsDir).Count;

        int removed = RootRecovery.Sweep(_naming);

        Assert.Equal(before, removed);
        Assert.True(removed >= (3 * 5) + 1, $"{removed} mounts"); // 3 roots of ≥ 5 mounts, the private roots dir
        Assert.Empty(MountTable.Read().MountPointsUnder(_naming.StateDir));
        Assert.False(Directory.Exists(_naming.RootsDir));
        Assert.True(File.Exists(Path.Combine(_code, "handler.py"))); // never deleted through the /handler bind
        Assert.NotNull(inUse);
    }

    [Fact]
    public void A_new_pool_sweeps_what_a_dead_one_left()
    {
        var factory = new RootFactory(_naming.RootsDir, new RootPoolOptions());
        Directory.CreateDirectory(_naming.RootsDir);
        var leftover = factory.Create();
        Mounts.Bind(_code, leftover.HandlerDir, readOnly: true);

        using var pool = NewPool(1);

        // The new pool may already have crafted a root at the same path (ids restart at 0); the
        // leftover's /handler bind, which a fresh root never has before a claim, must be gone.
        Assert.DoesNotContain(leftover.HandlerDir, MountTable.Read().MountPointsUnder(_naming.RootsDir));
        Assert.True(pool.Pool.WaitUntilFull(TimeSpan.FromSeconds(10)));
        Assert.True(File.Exists(Path.Combine(_code, "handler.py")));
    }

    [Fact]
    public void Unusable_options_and_state_dirs_give_clear_errors()
    {
        var negative = Assert.Throws<ArgumentException>(() => new RootPoolOptions { Size = -1 }.Validate());
        Assert.Contains("Size", negative.Message, StringComparison.Ordinal);
        var missing = Assert.Throws<ArgumentException>(() => new RootPoolOptions { BaseRoot = "/no/such/rootfs" }.Validate());
        Assert.Contains("/no/such/rootfs", missing.Message, StringComparison.Ordinal);
        var reserved = Assert.Throws<ArgumentException>(() => new RootPoolOptions { BaseDirs = ["usr", "tmp"] }.Validate());
        Assert.Contains("reserved", reserved.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new RootPoolOptions { TmpSizeBytes = 0 }.Validate());
        new RootPoolOptions().Validate();

        // A state dir below a regular file cannot be created, root or not.
        var file = Path.Combine(_code, "handler.py");
        var unwritable = new ThawNaming(_naming.Name, Path.Combine(file, "state"));
        var e = Assert.Throws<IOException>(() => new RootPool(unwritable, new RootPoolOptions(), NullLogger.Instance));
        Assert.Contains("state dir", e.Message, StringComparison.Ordinal);
        Assert.Contains(unwritable.StateDir, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Measured_creation_and_claim_cost()
    {
        using var pool = new RootPool(_naming, new RootPoolOptions { Size = 16 }, NullLogger.Instance);
        var sw = Stopwatch.StartNew();
        Assert.True(pool.Pool.WaitUntilFull(TimeSpan.FromSeconds(30)));
        var fill = sw.Elapsed;
        var claims = new List<double>();
        var roots = new List<SandboxRoot>();
        for (int i = 0; i < 16; i++)
        {
            long start = Stopwatch.GetTimestamp();
            roots.Add(pool.Claim(_code));
            claims.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        foreach (var root in roots)
            pool.Release(root);

        var stats = pool.Stats();
        claims.Sort();
        _output.WriteLine($"fill 16 roots: {fill.TotalMilliseconds:F1} ms; create median {stats.CreateMedianMs:F3} ms, p99 {stats.CreateP99Ms:F3} ms; " +
            $"claim (pop + bind code) median {claims[8]:F3} ms, max {claims[^1]:F3} ms");
        Assert.True(stats.CreateMedianMs < 50, $"creating a root took {stats.CreateMedianMs} ms");
    }

    public void Dispose()
    {
        RootRecovery.Sweep(_naming);
        if (Directory.Exists(_naming.StateDir))
            Directory.Delete(_naming.StateDir, recursive: true);
        Directory.Delete(_code, recursive: true);
    }
}
