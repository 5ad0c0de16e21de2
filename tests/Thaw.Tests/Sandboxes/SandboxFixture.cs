using Microsoft.Extensions.Logging.Abstractions;
using Thaw.Resources;
using Thaw.Resources.Cgroups;
using Thaw.Resources.Netns;
using Thaw.Resources.Roots;
using Thaw.Sandboxes;
using Thaw.Tests.Support;

namespace Thaw.Tests.Sandboxes;

/// <summary>One instance's pools and spawner (with its zygote), shared by a test class.</summary>
public sealed class SandboxFixture : IAsyncLifetime
{
    private readonly TestInstance _instance = new("thaws");

    public ResourceHost Host { get; private set; } = null!;

    public SandboxSpawner Spawner { get; private set; } = null!;

    public ThawNaming Naming => _instance.Naming;

    public Task InitializeAsync()
    {
        var options = new ThawOptions
        {
            Name = Naming.Name,
            StateDir = Naming.StateDir,
            Netns = new NetnsPoolOptions { Size = 4 },
            EnableBridge = true,
            BridgeNetns = new NetnsPoolOptions { Size = 2, Mode = NetnsMode.Bridge, Subnet = TestInstance.RandomSubnet() },
            Cgroups = new CgroupPoolOptions { Size = 4 },
            Roots = new RootPoolOptions { Size = 4 },
        };
        Host = ResourceHost.Start(options, NullLogger.Instance);
        Spawner = new SandboxSpawner(Host, new SandboxOptions { LogLimitBytes = 64 << 10 }, NullLogger.Instance);
        // Settled: the zygote's parked child is forked and holds its cgroup, so tests that count what
        // the pools lend out start from the steady state.
        return Wait.UntilAsync(() => Spawner.Zygote.ParkedPids.Count == new Thaw.Sandboxes.Zygotes.ZygoteOptions().Parked, TimeSpan.FromSeconds(10),
            "the zygote to park its child");
    }

    /// <summary>Runs <paramref name="argv"/> to its end: the exit and what it printed.</summary>
    public async Task<(SandboxExit Exit, string Stdout, string Stderr)> RunAsync(params string[] argv) =>
        await RunAsync(new SandboxSpec { Argv = argv });

    /// <summary>
    /// Runs <paramref name="spec"/> to its end. Started at once, thawd clones it itself; with
    /// <paramref name="viaZygote"/>, it is created first and started after, which the zygote's clone makes.
    /// </summary>
    public async Task<(SandboxExit Exit, string Stdout, string Stderr)> RunAsync(SandboxSpec spec, bool viaZygote = false)
    {
        Sandbox sandbox;
        if (viaZygote)
        {
            sandbox = await Spawner.CreateAsync(spec);
            sandbox.Start();
        }
        else
        {
            sandbox = await Spawner.RunAsync(spec);
        }
        var exit = await sandbox.Exited.WaitAsync(TimeSpan.FromSeconds(60));
        return (exit, sandbox.Stdout.ToString(), sandbox.Stderr.ToString());
    }

    /// <summary>A shell script's output; fails the test with its stderr if it did not exit 0.</summary>
    public async Task<string> ShellAsync(string script, bool viaZygote = false)
    {
        var (exit, stdout, stderr) = await RunAsync(new SandboxSpec { Argv = ["/bin/sh", "-c", script] }, viaZygote);
        Assert.True(exit.ExitCode == 0, $"exit: {exit}; stderr: {stderr}");
        return stdout;
    }

    public async Task DisposeAsync()
    {
        await Spawner.DisposeAsync();
        Host.Dispose();
        Assert.Empty(LeakCensus.MountsUnder(Naming.StateDir));
        Assert.Empty(LeakCensus.LinksStartingWith(Naming.Name));
        _instance.Dispose();
    }
}
