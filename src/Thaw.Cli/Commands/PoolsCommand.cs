using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using Thaw.Linux.Cgroups;
using Thaw.Resources;
using Thaw.Resources.Netns;
using Thaw.Resources.Pooling;

namespace Thaw.Cli.Commands;

/// <summary>`thaw pools`: start the resource pools on their own, to look at them or to sweep a crash's leftovers.</summary>
internal static class PoolsCommand
{
    private static readonly Option<string> Name = new("--name") { Description = "Instance name; prefixes every kernel object (bridge NAME0, cgroup NAME/...).", DefaultValueFactory = _ => "thaw" };
    private static readonly Option<string> StateDir = new("--state-dir") { Description = "Where pinned namespaces and roots live.", DefaultValueFactory = _ => "/var/lib/thaw" };
    private static readonly Option<int> NetnsSize = new("--netns") { Description = "Loopback-only namespaces kept ready.", DefaultValueFactory = _ => 16 };
    private static readonly Option<bool> Bridge = new("--bridge") { Description = "Also keep bridge-mode namespaces (creates the host bridge NAME0)." };
    private static readonly Option<int> BridgeSize = new("--bridge-netns") { Description = "Bridge-mode namespaces kept ready.", DefaultValueFactory = _ => 8 };
    private static readonly Option<string> Subnet = new("--subnet") { Description = "IPv4 subnet of the bridge.", DefaultValueFactory = _ => "10.213.0.0/16" };
    private static readonly Option<bool> Nat = new("--nat") { Description = "Bridge mode: masquerade the subnet so sandboxes reach beyond the host (needs iptables)." };
    private static readonly Option<int> CgroupSize = new("--cgroups") { Description = "Cgroups kept ready.", DefaultValueFactory = _ => 16 };
    private static readonly Option<int> RootSize = new("--roots") { Description = "Sandbox root directories kept ready.", DefaultValueFactory = _ => 16 };

    public static Command Create()
    {
        var command = new Command("pools", "Run the resource pools on their own: show them filled, hold them, or sweep what a crashed instance left.");
        command.Subcommands.Add(Show());
        command.Subcommands.Add(Hold());
        command.Subcommands.Add(SweepCommand());
        return command;
    }

    private static Command WithPoolOptions(Command command)
    {
        foreach (var option in new Option[] { Name, StateDir, NetnsSize, Bridge, BridgeSize, Subnet, Nat, CgroupSize, RootSize })
            command.Options.Add(option);
        return command;
    }

    private static ThawOptions Options(ParseResult parse) => new()
    {
        Name = parse.GetValue(Name)!,
        StateDir = parse.GetValue(StateDir)!,
        Netns = new NetnsPoolOptions { Size = parse.GetValue(NetnsSize) },
        EnableBridge = parse.GetValue(Bridge),
        BridgeNetns = new NetnsPoolOptions { Size = parse.GetValue(BridgeSize), Mode = NetnsMode.Bridge, Subnet = parse.GetValue(Subnet)!, Nat = parse.GetValue(Nat) },
        Cgroups = new Resources.Cgroups.CgroupPoolOptions { Size = parse.GetValue(CgroupSize) },
        Roots = new Resources.Roots.RootPoolOptions { Size = parse.GetValue(RootSize) },
    };

    private static Command Show()
    {
        var command = WithPoolOptions(new Command("show", "Start the pools, wait until they are full, print their levels and creation costs, stop and clean up."));
        command.SetAction(parse =>
        {
            using var loggers = CliLogging.Create();
            using var host = Start(parse, loggers);
            Print(host.Stats());
            return 0;
        });
        return command;
    }

    private static Command Hold()
    {
        var command = WithPoolOptions(new Command("hold", "Start the pools, print 'ready' when they are full, and hold them until interrupted (Ctrl-C or SIGTERM), then clean up."));
        command.SetAction(async (parse, token) =>
        {
            using var loggers = CliLogging.Create();
            using var host = Start(parse, loggers);
            Console.WriteLine("ready");
            try { await Task.Delay(Timeout.Infinite, token); }
            catch (OperationCanceledException) { }
            return 0;
        });
        return command;
    }

    private static Command SweepCommand()
    {
        var command = new Command("sweep", "Remove every namespace, link, cgroup and mount an instance of this name and state dir left behind (thawd also does this at start).")
        {
            Name, StateDir,
        };
        command.SetAction(parse =>
        {
            var naming = new ThawNaming(parse.GetValue(Name)!, parse.GetValue(StateDir)!);
            var removed = ResourceHost.Sweep(naming, CgroupHierarchy.Detect());
            foreach (var item in removed)
                Console.WriteLine("removed " + item);
            Console.WriteLine(removed.Count == 0 ? "nothing to remove" : $"removed {removed.Count} objects");
            return 0;
        });
        return command;
    }

    private static ResourceHost Start(ParseResult parse, ILoggerFactory loggers)
    {
        var host = ResourceHost.Start(Options(parse), loggers.CreateLogger("thaw"));
        try
        {
            foreach (var pool in host.Pools())
                if (!pool.WaitUntilFull(TimeSpan.FromSeconds(60)))
                    throw new TimeoutException($"pool {pool.Name} did not fill within 60 s");
            return host;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    private static void Print(IEnumerable<PoolStats> stats)
    {
        var table = new Table().AddColumns("pool", "target", "level", "in use", "claims", "misses", "created", "create median ms", "create p99 ms");
        foreach (var s in stats)
            table.AddRow(s.Name, I(s.Target), I(s.Level), I(s.InUse), I(s.Claims), I(s.Misses), I(s.Created),
                s.CreateMedianMs.ToString("0.000", CultureInfo.InvariantCulture), s.CreateP99Ms.ToString("0.000", CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
    }

    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);
}
