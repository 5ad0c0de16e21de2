using Thaw.Sandboxes;
using Thaw.Tests.Support;

namespace Thaw.Tests.Sandboxes;

/// <summary>create, start, kill, delete, state; output capture; bad input; a crashing zygote.</summary>
public sealed class LifecycleTests(SandboxFixture fixture) : IClassFixture<SandboxFixture>
{
    [Fact]
    public async Task Create_waits_for_start_then_runs_and_reports_exit_code_and_output()
    {
        var sandbox = await fixture.Spawner.CreateAsync(new SandboxSpec { Argv = ["/bin/sh", "-c", "echo out; echo err >&2; exit 5"] });
        Assert.Equal(SandboxStatus.Created, sandbox.State().Status);
        Assert.NotNull(sandbox.Pid);
        await Task.Delay(100);
        Assert.Equal(0, sandbox.Stdout.TotalBytes); // nothing ran before start
        sandbox.Start();
        var exit = await sandbox.Exited.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(5, exit.ExitCode);
        Assert.Null(exit.Error);
        Assert.Equal("out\n", sandbox.Stdout.ToString());
        Assert.Equal("err\n", sandbox.Stderr.ToString());
        var state = sandbox.State();
        Assert.Equal(SandboxStatus.Stopped, state.Status);
        Assert.Equal(exit, state.Exit);
    }

    [Fact]
    public async Task Kill_stops_a_running_sandbox_and_delete_returns_its_resources()
    {
        long inUse = InUse();
        var sandbox = await fixture.Spawner.RunAsync(new SandboxSpec { Argv = ["/bin/sleep", "60"] });
        await Wait.UntilAsync(() => sandbox.Status == SandboxStatus.Running, TimeSpan.FromSeconds(10));
        Assert.Equal(inUse + 3, InUse()); // a netns, a cgroup and a root
        sandbox.Kill(15); // pid 1 of a pid namespace ignores SIGTERM unless it handles it
        await Task.Delay(200);
        Assert.Equal(SandboxStatus.Running, sandbox.Status);
        var exit = await sandbox.DeleteAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(9, exit.Signal);
        Assert.Equal(inUse, InUse());
    }

    [Fact]
    public async Task Delete_of_a_created_sandbox_never_runs_it()
    {
        var sandbox = await fixture.Spawner.CreateAsync(new SandboxSpec { Argv = ["/bin/sh", "-c", "echo ran"] });
        var exit = await sandbox.DeleteAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(9, exit.Signal);
        Assert.Equal("", sandbox.Stdout.ToString());
        Assert.Throws<InvalidOperationException>(sandbox.Start);
    }

    [Fact]
    public async Task Output_is_bounded_and_keeps_the_newest_bytes()
    {
        var (exit, stdout, _) = await fixture.RunAsync("/bin/sh", "-c", "head -c 300000 /dev/zero | tr '\\0' a; echo; echo tail-marker");
        Assert.Equal(0, exit.ExitCode);
        Assert.Equal(64 << 10, stdout.Length);
        Assert.EndsWith("tail-marker\n", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_program_is_a_clear_error_and_returns_the_resources()
    {
        long inUse = InUse();
        var (exit, _, _) = await fixture.RunAsync("/no/such/program");
        Assert.Equal(127, exit.ExitCode);
        Assert.Equal("cannot execute /no/such/program: No such file or directory", exit.Error);
        Assert.Equal(inUse, InUse());
    }

    [Fact]
    public async Task Missing_code_dir_is_refused_before_anything_is_claimed()
    {
        long claims = fixture.Host.Stats().Sum(s => s.Claims);
        var error = await Assert.ThrowsAsync<ArgumentException>(() => fixture.Spawner.CreateAsync(new SandboxSpec { Argv = ["/bin/true"], CodeDir = "/nonexistent/code" }));
        Assert.Contains("/nonexistent/code", error.Message, StringComparison.Ordinal);
        Assert.Equal(claims, fixture.Host.Stats().Sum(s => s.Claims));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Stdin_is_given_then_closed_and_a_program_that_ignores_it_is_fine(bool viaZygote)
    {
        // Over a socket buffer's worth, so the write waits for the program to read.
        string big = new('x', 300_000);
        var (exit, stdout, _) = await fixture.RunAsync(new SandboxSpec { Argv = ["/bin/sh", "-c", "wc -c"], Stdin = System.Text.Encoding.UTF8.GetBytes(big) }, viaZygote);
        Assert.Equal(0, exit.ExitCode);
        Assert.Equal("300000", stdout.Trim());
        (exit, stdout, _) = await fixture.RunAsync(new SandboxSpec { Argv = ["/bin/echo", "ignored"], Stdin = System.Text.Encoding.UTF8.GetBytes(big) }, viaZygote);
        Assert.Equal((0, "ignored\n"), (exit.ExitCode, stdout));
    }

    [Fact]
    public async Task Crashed_zygote_loses_its_sandboxes_returns_their_resources_and_is_replaced()
    {
        long inUse = InUse();
        // Created, then started: the zygote's clone (one run at once is thawd's own child).
        var sandbox = await fixture.Spawner.CreateAsync(new SandboxSpec { Argv = ["/bin/sleep", "60"] });
        sandbox.Start();
        var thawds = await fixture.Spawner.RunAsync(new SandboxSpec { Argv = ["/bin/sleep", "60"] });
        await Wait.UntilAsync(() => sandbox.Status == SandboxStatus.Running, TimeSpan.FromSeconds(10));
        int sleeper = sandbox.Pid!.Value;
        var old = fixture.Spawner.Zygote;
        System.Diagnostics.Process.GetProcessById(old.Pid).Kill();

        var exit = await sandbox.Exited.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains("zygote died", exit.Error, StringComparison.Ordinal);
        Assert.False(Runs(sleeper), "the lost sandbox was killed through its cgroup");
        // thawd's own child does not depend on the zygote.
        Assert.Equal(SandboxStatus.Running, thawds.Status);
        Assert.Equal(9, (await thawds.DeleteAsync(TimeSpan.FromSeconds(10))).Signal);
        await Wait.UntilAsync(() => fixture.Spawner.ZygoteRestarts >= 1 && fixture.Spawner.Zygote.IsAlive, TimeSpan.FromSeconds(30));
        Assert.NotEqual(old.Pid, fixture.Spawner.Zygote.Pid);
        Assert.Equal(0, (await fixture.RunAsync("/bin/true")).Exit.ExitCode);
        await Wait.UntilAsync(() => InUse() == inUse, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void A_zygote_that_cannot_start_is_a_clear_error_and_claims_nothing()
    {
        long inUse = InUse();
        var options = new SandboxOptions { Zygote = new Thaw.Sandboxes.Zygotes.ZygoteOptions { Python = "/no/python3" } };
        var error = Assert.Throws<ArgumentException>(() => new SandboxSpawner(fixture.Host, options, TestInstance.Logger));
        Assert.Contains("/no/python3 not found", error.Message, StringComparison.Ordinal);

        // A python3 that exits at once (wrong interpreter): the start fails, the zygote's resources return.
        options = new SandboxOptions { Zygote = new Thaw.Sandboxes.Zygotes.ZygoteOptions { Python = "/bin/false" } };
        var failed = Assert.Throws<Thaw.Sandboxes.Zygotes.ZygoteException>(() => new SandboxSpawner(fixture.Host, options, TestInstance.Logger));
        Assert.Contains("failed to start", failed.Message, StringComparison.Ordinal);
        Assert.Equal(inUse, InUse());
    }

    [Fact]
    public async Task Sandboxes_forked_from_the_python_zygote_behave_the_same()
    {
        await using var forking = new SandboxSpawner(fixture.Host, new SandboxOptions { Via = SpawnVia.Fork }, TestInstance.Logger);
        var sandbox = await forking.RunAsync(new SandboxSpec { Argv = ["/bin/sh", "-c", "echo $$; id -u"] });
        var exit = await sandbox.Exited.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, exit.ExitCode);
        Assert.Equal("1\n65534\n", sandbox.Stdout.ToString());
    }

    private long InUse() => fixture.Host.Stats().Sum(s => s.InUse);

    /// <summary>Alive and not a zombie (an orphan's zombie waits for the host's init to reap it).</summary>
    private static bool Runs(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            char state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }
}
