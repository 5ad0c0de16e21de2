using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using Thaw.Linux.Cgroups;
using Thaw.Linux.Mounts;
using Thaw.Linux.Netlink;
using Thaw.Resources;
using Thaw.Resources.Cgroups;
using Thaw.Sandboxes;

namespace Thaw.Cli.Commands;

/// <summary>
/// `thaw demo`: the platform so far, end to end: pools filled ahead of time, a zygote, sandboxes
/// started from both in milliseconds, their isolation and limits shown, everything removed at the
/// end, and Python functions (examples/) started cold from the zygote tree. The service (next
/// issue) turns it into the full platform demo.
/// </summary>
internal static class DemoCommand
{
    private const string Name = "thawdemo";

    public static Command Create()
    {
        var stateDir = new Option<string>("--state-dir") { Description = "Where pinned namespaces and roots live.", DefaultValueFactory = _ => "/var/lib/thaw" };
        var command = new Command("demo", "Show Thaw at work: fill the pools, start a zygote, run sandboxes from them (isolation, limits, start latency per phase), run the example Python functions cold and warm, clean up.")
        {
            stateDir,
        };
        command.SetAction(parse => RunAsync(parse.GetValue(stateDir)!));
        return command;
    }

    private static async Task<int> RunAsync(string stateDir)
    {
        var console = AnsiConsole.Console;
        stateDir = Path.Combine(stateDir, "demo");
        var options = new ThawOptions { Name = Name, StateDir = stateDir, EnableBridge = true };
        options.BridgeNetns.Subnet = "10.216.0.0/24";
        options.Netns.Size = options.BridgeNetns.Size = options.Cgroups.Size = options.Roots.Size = 8;
        string code = Path.Combine(stateDir, "code");
        Directory.CreateDirectory(code);
        File.WriteAllText(Path.Combine(code, "hello.txt"), "hello from /handler, bound read-only\n");

        using var loggers = CliLogging.Create(LogLevel.Warning);
        var logger = loggers.CreateLogger("thaw");
        var host = ResourceHost.Start(options, logger);
        int zygotePid = 0;
        try
        {
            console.Status().Start("crafting pools (network namespaces, cgroups, sandbox roots)...", _ =>
            {
                foreach (var pool in host.Pools())
                    pool.WaitUntilFull(TimeSpan.FromSeconds(60));
            });
            console.MarkupLine("[green]pools full[/]: every expensive kernel object exists before any request arrives.");
            await using var spawner = new SandboxSpawner(host, new SandboxOptions(), logger);
            zygotePid = spawner.Zygote.Pid;
            console.MarkupLine($"[green]zygote {zygotePid} ready[/]: its own cgroup, an empty netns, a root holding only the zygote; it spawns every sandbox.");

            await ShowIsolation(console, spawner, code);
            await ShowStartLatency(console, spawner);
            await ShowLimits(console, spawner);
            await DemoPython.Show(console, spawner, logger);
        }
        finally
        {
            console.Status().Start("stopping: zygote, then every pooled resource...", _ => host.Dispose());
            Directory.Delete(code, recursive: true);
        }
        return Verify(console, stateDir, zygotePid);
    }

    private static async Task ShowIsolation(IAnsiConsole console, SandboxSpawner spawner, string code)
    {
        const string script =
            "echo \"pid $$, hostname $(hostname), $(id)\"; " +
            "echo \"processes it can see: $(ls /proc | grep -c '^[0-9]')\"; " +
            "echo \"links: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ' ')\"; " +
            "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status | tr '\\t' ' '; " +
            "cat /handler/hello.txt; echo scratch > /tmp/x && echo '/tmp is writable'; " +
            "touch /usr/x 2>/dev/null || echo '/usr is read-only'; ls /root 2>/dev/null || echo 'no /root, no /var: only its own root'";
        var sandbox = await spawner.RunAsync(new SandboxSpec { Argv = ["/bin/sh", "-c", script], CodeDir = code, Network = SandboxNetwork.Bridge, Hostname = "thaw-demo" });
        var exit = await sandbox.Exited;
        console.Write(new Panel(Markup.Escape((sandbox.Stdout.ToString() + sandbox.Stderr).TrimEnd()))
            .Header($"a sandbox (bridge netns {sandbox.Netns.Address}, cgroup {sandbox.Cgroup.RelativePath}): {exit}"));
    }

    private static async Task ShowStartLatency(IAnsiConsole console, SandboxSpawner spawner)
    {
        var table = new Table().Title("sandboxed /bin/true, one after another: where the time goes (ms)")
            .AddColumns("sandbox", "pool claims (netns, cgroup, root)", "zygote: spawn, enter, exec", "program runs, exits", "request → exit");
        for (int i = 1; i <= 8; i++)
        {
            var sandbox = await spawner.RunAsync(new SandboxSpec { Argv = ["/bin/true"] });
            await sandbox.Exited;
            var t = sandbox.Timings;
            table.AddRow(I(i), Ms(t.Requested, t.Claimed), Ms(t.Claimed, t.Started), Ms(t.Started, t.Exited), Ms(t.Requested, t.Exited));
        }
        console.Write(table);
    }

    private static async Task ShowLimits(IAnsiConsole console, SandboxSpawner spawner)
    {
        var table = new Table().Title("limits hold").AddColumns("sandbox", "limit", "what happened");
        var hog = await spawner.RunAsync(new SandboxSpec
        {
            Argv = ["/usr/bin/python3", "-c", "x = bytearray(512 << 20)"],
            Limits = new CgroupLimits(48L << 20, 1.0, 32),
        });
        table.AddRow("allocates 512 MiB", "memory 48 MiB", Markup.Escape((await hog.Exited).ToString()));
        var bomb = await spawner.RunAsync(new SandboxSpec
        {
            Argv = ["/usr/bin/python3", "-c", "import os, time\nn = 0\ntry:\n    for i in range(100):\n        if os.fork() == 0:\n            time.sleep(2); os._exit(0)\n        n += 1\nexcept OSError as e:\n    print(f'{n} forks, then: {e.strerror}')"],
            Limits = new CgroupLimits(64L << 20, 1.0, 16),
        });
        await bomb.Exited;
        table.AddRow("forks 100 sleepers", "pids 16", Markup.Escape(bomb.Stdout.ToString().Trim()));
        var sleeper = await spawner.RunAsync(new SandboxSpec { Argv = ["/bin/sleep", "60"], Timeout = TimeSpan.FromMilliseconds(300) });
        table.AddRow("sleeps 60 s", "timeout 300 ms", Markup.Escape((await sleeper.Exited).ToString()));
        console.Write(table);
    }

    private static int Verify(IAnsiConsole console, string stateDir, int zygotePid)
    {
        int mounts = MountTable.Read().MountPointsUnder(stateDir).Count;
        using var netlink = new NetlinkSocket();
        int links = netlink.ListLinks().Count(l => l.Name.StartsWith(Name, StringComparison.Ordinal));
        int cgroups = CgroupHierarchy.Detect().MountPaths.Count(m => Directory.Exists(Path.Combine(m, Name)));
        int processes = zygotePid > 0 && Directory.Exists($"/proc/{zygotePid}") ? 1 : 0;
        int left = mounts + links + cgroups + processes;
        console.MarkupLine(left == 0
            ? "[green]stopped; nothing left behind[/] (no zygote, no mounts under the state dir, no thawdemo links or cgroups)."
            : $"[red]left behind: {mounts} mounts, {links} links, {cgroups} cgroups, {processes} zygote[/]");
        console.MarkupLine("Next: [blue]./thaw run -- /bin/sh -c 'echo hi'[/] runs one sandbox; [blue]./thaw bench startup[/] compares sandbox starts with runc and Docker; [blue]./thaw bench python[/] compares Python cold starts with a fresh interpreter in runc.");
        return left == 0 ? 0 : 1;
    }

    private static string Ms(long from, long to) =>
        SandboxTimings.Ms(from, to).ToString("0.00", CultureInfo.InvariantCulture);

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);
}
