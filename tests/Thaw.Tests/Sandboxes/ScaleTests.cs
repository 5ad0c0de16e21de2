using Thaw.Linux.Mounts;
using Thaw.Sandboxes;
using Thaw.Tests.Support;

namespace Thaw.Tests.Sandboxes;

/// <summary>
/// Many sandboxes, one after another and all at once: afterwards thawd holds exactly the fds it held
/// before, the pools hold only what they keep ready, and no sandbox process is left anywhere.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class ScaleTests(SandboxFixture fixture) : IClassFixture<SandboxFixture>
{
    [Fact]
    public async Task A_thousand_sequential_sandboxes_leave_nothing_behind()
    {
        await WarmUp();
        var before = Census();
        for (int i = 0; i < 1000; i++)
        {
            var (exit, _, _) = await fixture.RunAsync("/bin/true");
            Assert.True(exit.ExitCode == 0, $"sandbox {i}: {exit}");
        }
        await AssertSameAsAsync(before);
    }

    [Fact]
    public async Task Two_hundred_concurrent_sandboxes_leave_nothing_behind()
    {
        await WarmUp();
        var before = Census();
        var sandboxes = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => fixture.Spawner.RunAsync(new SandboxSpec { Argv = ["/bin/sh", "-c", "echo $$"] })));
        var exits = await Task.WhenAll(sandboxes.Select(s => s.Exited)).WaitAsync(TimeSpan.FromMinutes(3));
        Assert.All(exits, e => Assert.Equal(0, e.ExitCode));
        Assert.All(sandboxes, s => Assert.Equal("1\n", s.Stdout.ToString()));
        await AssertSameAsAsync(before);
    }

    private async Task WarmUp()
    {
        // The first sandbox creates the runtime's socket engine threads and buffers; count after it.
        Assert.Equal(0, (await fixture.RunAsync("/bin/true")).Exit.ExitCode);
    }

    private (int Fds, long InUse) Census() => (LeakCensus.OpenFdsLessPools(fixture.Host), InUse());

    private long InUse() => fixture.Host.Stats().Sum(s => s.InUse);

    private async Task AssertSameAsAsync((int Fds, long InUse) before)
    {
        Assert.Empty(fixture.Spawner.Live);
        Assert.Equal(before.InUse, InUse()); // only the zygote's netns, cgroup and root
        // Released resources are recycled by the pools' workers: wait for the fds to settle.
        await Wait.UntilAsync(() => LeakCensus.OpenFdsLessPools(fixture.Host) <= before.Fds, TimeSpan.FromSeconds(30),
            $"thawd's fds (less the pools') back to {before.Fds} (now {LeakCensus.OpenFdsLessPools(fixture.Host)})");
        // The zygote's only children: those it keeps parked (forked ahead, not yet sandboxes).
        await Wait.UntilAsync(() => ZygoteChildren() == new Thaw.Sandboxes.Zygotes.ZygoteOptions().Parked, TimeSpan.FromSeconds(10),
            $"the zygote's children to be just its parked ones (now {ZygoteChildren()})");
        // No sandbox cgroup is lent out but the zygote's own and those its parked children joined.
        await Wait.UntilAsync(() => fixture.Spawner.Zygote.ParkedPids.Count == new Thaw.Sandboxes.Zygotes.ZygoteOptions().Parked, TimeSpan.FromSeconds(10),
            "thawd to hold the zygote's parked children");
        Assert.Equal(1 + fixture.Spawner.Zygote.ParkedPids.Count, fixture.Host.Cgroups.Pool.Stats().InUse);
        foreach (var pool in fixture.Host.Pools())
            Assert.True(pool.Stats().Level <= 2 * pool.Stats().Target, $"{pool.Name} kept {pool.Stats().Level} idle");
        // Mounts: each pooled root (idle or the zygote's) and each pinned netns, nothing else, once
        // the pools have destroyed what a burst made beyond their idle bound.
        await Wait.UntilAsync(() => MountsUnderStateDir() <= MountBound(), TimeSpan.FromSeconds(60),
            $"mounts under the state dir within the pools' bound ({MountsUnderStateDir()} > {MountBound()})");
    }

    private int MountsUnderStateDir() => MountTable.Read().MountPointsUnder(fixture.Naming.StateDir).Count;

    private int MountBound()
    {
        static long Held(Thaw.Resources.Pooling.PoolStats s) => s.Level + s.InUse;
        // A root is its tmpfs, up to 8 base binds, /tmp, /host and at most the code and packages binds.
        long roots = Held(fixture.Host.Roots.Stats()) * 13;
        long netns = fixture.Host.Stats().Where(s => s.Name.StartsWith("netns", StringComparison.Ordinal)).Sum(Held);
        return (int)(roots + netns);
    }

    private int ZygoteChildren()
    {
        string children = $"/proc/{fixture.Spawner.Zygote.Pid}/task/{fixture.Spawner.Zygote.Pid}/children";
        return File.Exists(children) ? File.ReadAllText(children).Split(' ', StringSplitOptions.RemoveEmptyEntries).Length : 0;
    }
}
