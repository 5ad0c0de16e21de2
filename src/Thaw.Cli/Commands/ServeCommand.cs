using System.CommandLine;
using Thaw.Service;
using Thaw.Service.Configuration;

namespace Thaw.Cli.Commands;

/// <summary>`thaw serve`: runs thawd in the foreground until SIGINT or SIGTERM, then stops it cleanly.</summary>
internal static class ServeCommand
{
    private static readonly Option<string?> Config = new("--config") { Description = $"A thawd.toml to read (default {ThawdConfiguration.DefaultFile}, read when it exists). Flags override THAW_* variables, which override the file: docs/thawd-toml.md." };
    private static readonly Option<bool> PrintConfig = new("--print-config") { Description = "Print the effective configuration and where each value came from, then exit without starting thawd." };
    private static readonly Option<bool> NoValidate = new("--no-validate") { Description = ThawdSettings.Find("api.validate_deploys")!.Help };

    /// <summary>A flag per key that has one (--no-validate aside: it is a switch), with the key's default in its help.</summary>
    private static readonly (Option<string?> Option, ThawdSetting Setting)[] SettingFlags = [.. ThawdSettings.All
        .Where(s => s.Flag is not null && s.Type != "boolean")
        .Select(s => (new Option<string?>(s.Flag!) { Description = $"{s.Help} Default: {s.Read(new ThawdConfiguration())?.Trim('"') ?? "none"}; thawd.toml: {s.Key}.", HelpName = s.Type }, s))];

    public static Command Create()
    {
        var command = new Command("serve", "Run thawd, the Thaw service: the HTTP API (deploy, invoke, list, remove, logs, stats, /metrics), pools, zygotes and the handler cache. Stops cleanly on Ctrl-C or SIGTERM.")
        {
            Config, PrintConfig, NoValidate,
        };
        foreach (var (option, _) in SettingFlags)
            command.Options.Add(option);
        command.SetAction(RunAsync);
        return command;
    }

    /// <summary>Serves until <paramref name="stop"/> (System.CommandLine cancels it on SIGINT and SIGTERM; Program.cs gives the stop time to finish).</summary>
    private static async Task<int> RunAsync(ParseResult parse, CancellationToken stop)
    {
        var config = Configuration(parse);
        if (parse.GetValue(PrintConfig))
        {
            Console.Write(config.Describe());
            return 0;
        }
        using var loggers = CliLogging.Create(config.LogLevel);
        await using var thawd = await Thawd.StartAsync(config.Options, loggers);
        // One line on stdout that scripts (and `thaw demo`) wait for.
        Console.WriteLine($"thawd ready on {thawd.Url}");
        try { await Task.Delay(Timeout.Infinite, stop); }
        catch (OperationCanceledException) { }
        Console.Error.WriteLine("thawd: stopping (calls in flight finish, then every sandbox and zygote stops)...");
        return 0;
    }

    /// <summary>The file, the THAW_* variables and the flags given, in that order of precedence (docs/thawd-toml.md).</summary>
    internal static ThawdConfiguration Configuration(ParseResult parse)
    {
        var flags = SettingFlags.Where(f => parse.GetResult(f.Option) is not null)
            .Select(f => (f.Setting, f.Setting.Flag!, parse.GetValue(f.Option)!)).ToList();
        if (parse.GetValue(NoValidate))
            flags.Add((ThawdSettings.Find("api.validate_deploys")!, "--no-validate", "false"));
        return ThawdConfiguration.Load(parse.GetValue(Config), flags);
    }
}
