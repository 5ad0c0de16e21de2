using Microsoft.Extensions.Logging.Abstractions;
using Thaw.Resources;
using Thaw.Resources.Cgroups;
using Thaw.Resources.Netns;
using Thaw.Resources.Roots;
using Thaw.Sandboxes;
using Thaw.Tests.Support;

namespace Thaw.Tests.Sandboxes;

/// <summary>
/// Exec sandboxes cloned by thawd itself (<see cref="SpawnVia.Thawd"/>: libthawspawn's vfork-style
/// clone in this process, reaped through pidfds): the same isolation, exits, kills and cleanup as
/// the zygote's. Runs alone: it counts the test host's fds and children.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class ThawdSpawnTests : IAsyncLifetime
{
    private readonly TestInstance _instance = new("thawd");
    private ResourceHost _host = null!;
    private SandboxSpawner _spawner = null!;

    public Task InitializeAsync()
    {
        _host = ResourceHost.Start(new ThawOptions
        {
            Name = _instance.Naming.Name,
            StateDir = _instance.Naming.StateDir,
            Netns = new NetnsPoolOptions { Size = 4 },
            Cgroups = new CgroupPoolOptions { Size = 4 },
            Roots = new RootPoolOptions { Size = 4 },
        }, NullLogger.Instance);
        _spawner = new SandboxSpawner(_host, new SandboxOptions { Via = SpawnVia.Thawd, LogLimitBytes = 64 << 10, Zygote = new() { Parked = 0 } }, NullLogger.Instance);
        return Task.CompletedTask;
    }

    private async Task<(SandboxExit Exit, Sandbox Sandbox)> RunAsync(params string[] argv)
    {
        var sandbox = await _spawner.RunAsync(new SandboxSpec { Argv = argv, Hostname = "thaw-direct" });
        return (await sandbox.Exited.WaitAsync(TimeSpan.FromSeconds(30)), sandbox);
    }

    [Fact]
    public async Task It_is_pid_1_of_its_own_namespaces_unprivileged_and_thawd_is_its_parent()
    {
        var (exit, sandbox) = await RunAsync("/bin/sh", "-c",
            "echo $$; id -u; hostname; ls /proc | grep -c '^[0-9]'; cut -d' ' -f5 /proc/self/mountinfo | grep -c .; grep CapEff /proc/self/status; cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '");
        Assert.True(exit.ExitCode == 0, sandbox.Stderr.ToString());
        var lines = sandbox.Stdout.ToString().Split('\n');
        Assert.Equal("1", lines[0]);
        Assert.Equal("65534", lines[1]);
        Assert.Equal("thaw-direct", lines[2]);
        Assert.InRange(int.Parse(lines[3], System.Globalization.CultureInfo.InvariantCulture), 1, 4); // its shell and pipeline only
        Assert.InRange(int.Parse(lines[4], System.Globalization.CultureInfo.InvariantCulture), 4, 10); // a copy of the zygote's small namespace, not thawd's
        Assert.Equal("CapEff:\t0000000000000000", lines[5]);
        Assert.Equal("lo", lines[6]);
    }

    [Fact]
    public async Task Exit_codes_output_and_a_missing_program_are_reported()
    {
        var (exit, sandbox) = await RunAsync("/bin/sh", "-c", "echo oops >&2; exit 3");
        Assert.Equal(3, exit.ExitCode);
        Assert.Equal("oops\n", sandbox.Stderr.ToString());
        (exit, _) = await RunAsync("/no/such/program");
        Assert.Equal(127, exit.ExitCode);
        Assert.Equal("cannot execute /no/such/program: No such file or directory", exit.Error);
    }

    [Fact]
    public async Task Kill_ends_it_and_disposing_the_spawner_kills_what_still_runs()
    {
        var sandbox = await _spawner.RunAsync(new SandboxSpec { Argv = ["/bin/sleep", "60"] });
        Assert.Equal(SandboxStatus.Running, sandbox.Status);
        var exit = await sandbox.DeleteAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(9, exit.Signal);

        var left = await _spawner.RunAsync(new SandboxSpec { Argv = ["/bin/sleep", "60"] });
        int pid = left.Pid!.Value;
        await _spawner.DisposeAsync();
        Assert.False(Directory.Exists($"/proc/{pid}"), "a sandbox outlived its spawner");
        _spawner = new SandboxSpawner(_host, new SandboxOptions { Via = SpawnVia.Thawd, Zygote = new() { Parked = 0 } }, NullLogger.Instance);
    }

    [Fact]
    public async Task Another_spawner_stopping_leaves_this_ones_sandboxes_running()
    {
        // Its zygote hears goodbye, not a crash: its net for a crashed thawd (every process in the
        // instance's cgroups) must not fire, or it would kill this spawner's sandbox (scan: ~10 ms).
        var sandbox = await _spawner.RunAsync(new SandboxSpec { Argv = ["/bin/sleep", "60"] });
        var other = new SandboxSpawner(_host, new SandboxOptions { Zygote = new() { Parked = 0 } }, NullLogger.Instance);
        int otherZygote = other.Zygote.Pid;
        await other.DisposeAsync();
        await Wait.UntilAsync(() => !Directory.Exists($"/proc/{otherZygote}"), TimeSpan.FromSeconds(10), "the other zygote to exit");
        await Task.Delay(200);
        Assert.Equal(SandboxStatus.Running, sandbox.Status);
        Assert.Equal(9, (await sandbox.DeleteAsync(TimeSpan.FromSeconds(10))).Signal);
    }

    [Fact]
    public async Task Many_sandboxes_leave_no_fd_child_or_pool_claim_behind()
    {
        Assert.Equal(0, (await RunAsync("/bin/true")).Exit.ExitCode); // the first loads the library and starts the reaper
        int fds = LeakCensus.OpenFdsLessPools(_host);
        long inUse = _host.Stats().Sum(s => s.InUse);
        for (int i = 0; i < 100; i++)
            Assert.Equal(0, (await RunAsync("/bin/true")).Exit.ExitCode);
        var burst = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => _spawner.RunAsync(new SandboxSpec { Argv = ["/bin/true"] })));
        Assert.All(await Task.WhenAll(burst.Select(s => s.Exited)), e => Assert.Equal(0, e.ExitCode));
        Assert.Equal(inUse, _host.Stats().Sum(s => s.InUse));
        await Wait.UntilAsync(() => LeakCensus.OpenFdsLessPools(_host) <= fds, TimeSpan.FromSeconds(30), $"the test host's fds back to {fds} (now {LeakCensus.OpenFdsLessPools(_host)})");
        // Every sandbox was reaped: this process has no child but the zygote.
        string children = File.ReadAllText($"/proc/{Environment.ProcessId}/task/{Environment.ProcessId}/children");
        Assert.DoesNotContain(children.Split(' ', StringSplitOptions.RemoveEmptyEntries), c => File.Exists($"/proc/{c}/stat") && File.ReadAllText($"/proc/{c}/stat").Contains(") Z ", StringComparison.Ordinal));
    }

    public async Task DisposeAsync()
    {
        await _spawner.DisposeAsync();
        _host.Dispose();
        Assert.Empty(LeakCensus.MountsUnder(_instance.Naming.StateDir));
        _instance.Dispose();
    }
}
