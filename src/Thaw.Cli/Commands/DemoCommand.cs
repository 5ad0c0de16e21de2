using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Thaw.Linux.Cgroups;
using Thaw.Linux.Mounts;
using Thaw.Linux.Netlink;
using Thaw.Resources;
using Thaw.Resources.Cgroups;

namespace Thaw.Cli.Commands;

/// <summary>
/// `thaw demo`: the resource layer at work end to end. Later layers (sandboxes, Python functions,
/// the service) extend it into the full platform demo.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var stateDir = new Option<string>("--state-dir") { Description = "Where pinned namespaces and roots live.", DefaultValueFactory = _ => "/var/lib/thaw" };
        var command = new Command("demo", "Show Thaw's pools at work: fill them, claim a sandbox's resources in microseconds, run a program inside them, clean up.")
        {
            stateDir,
        };
        command.SetAction(parse => Run(parse.GetValue(stateDir)!));
        return command;
    }

    private static int Run(string stateDir)
    {
        var console = AnsiConsole.Console;
        var options = new ThawOptions { Name = "thawdemo", StateDir = stateDir, EnableBridge = true };
        options.BridgeNetns.Subnet = "10.216.0.0/24";
        options.Netns.Size = options.BridgeNetns.Size = options.Cgroups.Size = options.Roots.Size = 8;
        string code = Path.Combine(stateDir, "demo-code");
        Directory.CreateDirectory(code);
        File.WriteAllText(Path.Combine(code, "hello.txt"), "hello from /handler, bound read-only\n");

        using var loggers = CliLogging.Create(Microsoft.Extensions.Logging.LogLevel.Warning);
        var host = ResourceHost.Start(options, loggers.CreateLogger("thaw"));
        try
        {
            console.Status().Start("crafting pools (network namespaces, cgroups, sandbox roots)...", _ =>
            {
                foreach (var pool in host.Pools())
                    pool.WaitUntilFull(TimeSpan.FromSeconds(60));
            });
            console.MarkupLine("[green]pools full[/] — every expensive kernel object exists before any request arrives.");

            var table = new Table().AddColumns("sandbox", "claim netns (bridge)", "claim cgroup + limits", "claim root + bind /handler", "total ms");
            for (int i = 1; i <= 5; i++)
            {
                var t0 = Stopwatch.GetTimestamp();
                var netns = host.BridgeNetns!.Claim();
                var t1 = Stopwatch.GetTimestamp();
                var cgroup = host.Cgroups.Claim(new CgroupLimits(64L << 20, 0.5, 32));
                var t2 = Stopwatch.GetTimestamp();
                var root = host.Roots.Claim(code);
                var t3 = Stopwatch.GetTimestamp();
                table.AddRow(i.ToString(CultureInfo.InvariantCulture), Ms(t0, t1), Ms(t1, t2), Ms(t2, t3), Ms(t0, t3));
                if (i == 1)
                    RunInside(console, netns.Path, root.Path, cgroup, netns.Address?.ToString() ?? "-");
                host.BridgeNetns.Release(netns);
                host.Cgroups.Release(cgroup);
                host.Roots.Release(root);
            }
            console.Write(table);

            var stats = new Table().Title("What a miss would have cost: crafting each resource fresh").AddColumns("pool", "level", "create median ms", "create p99 ms");
            foreach (var s in host.Stats())
                stats.AddRow(s.Name, s.Level.ToString(CultureInfo.InvariantCulture), s.CreateMedianMs.ToString("0.000", CultureInfo.InvariantCulture), s.CreateP99Ms.ToString("0.000", CultureInfo.InvariantCulture));
            console.Write(stats);
        }
        finally
        {
            console.Status().Start("stopping: destroying every pooled resource...", _ => host.Dispose());
            Directory.Delete(code, recursive: true);
        }

        int mounts = MountTable.Read().MountPointsUnder(stateDir).Count;
        using var netlink = new NetlinkSocket();
        int links = netlink.ListLinks().Count(l => l.Name.StartsWith(options.Name, StringComparison.Ordinal));
        int cgroups = CgroupHierarchy.Detect().MountPaths.Count(m => Directory.Exists(Path.Combine(m, options.Name)));
        console.MarkupLine(mounts + links + cgroups == 0
            ? "[green]stopped; nothing left behind[/] (no mounts under the state dir, no thawdemo links, no thawdemo cgroups)."
            : $"[red]left behind: {mounts} mounts, {links} links, {cgroups} cgroups[/]");
        console.MarkupLine("Next: [blue]./thaw bench pools[/] compares pool claims with fresh creation and with `ip`, at bursts of 1–50.");
        return mounts + links + cgroups == 0 ? 0 : 1;
    }

    /// <summary>A program inside the claimed resources: its namespace, its cgroup, chrooted into its root.</summary>
    private static void RunInside(IAnsiConsole console, string netns, string root, SandboxCgroup cgroup, string address)
    {
        var psi = new ProcessStartInfo("nsenter") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { $"--net={netns}", "--", "chroot", root, "/bin/sh", "-c",
            "sleep 0.05; echo \"pid $$ in cgroup: $(grep memory /proc/self/cgroup 2>/dev/null || echo '(no /proc in root yet)')\"; " +
            "cat /handler/hello.txt; echo scratch > /tmp/x && echo \"/tmp is writable\"; " +
            "touch /usr/x 2>/dev/null || echo '/usr is read-only'; echo \"links: $(ls /sys/class/net 2>/dev/null || echo '(no /sys in root)')\"" })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        cgroup.Join(p.Id);
        string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        console.Write(new Panel(Markup.Escape(output.TrimEnd()))
            .Header($"a shell inside claimed resources (netns with {address}, cgroup, chroot)"));
    }

    private static string Ms(long from, long to) =>
        Stopwatch.GetElapsedTime(from, to).TotalMilliseconds.ToString("0.000", CultureInfo.InvariantCulture);
}
