using System.CommandLine;
using System.Runtime.InteropServices;
using System.Text;
using Thaw.Service.Configuration;

namespace Thaw.Cli.Commands;

/// <summary>
/// `thaw install-service`: writes thawd's systemd unit (packaging/thawd.service, embedded) with the
/// absolute path of this thaw, the .NET runtime it runs on and the configuration file it is to read.
/// </summary>
internal static class InstallServiceCommand
{
    private static readonly Option<string> UnitDir = new("--unit-dir") { Description = "Where to write thawd.service.", DefaultValueFactory = _ => "/etc/systemd/system" };
    private static readonly Option<string?> Config = new("--config") { Description = $"The thawd.toml the service reads (checked now; default {ThawdConfiguration.DefaultFile}, read when it exists)." };
    private static readonly Option<bool> DryRun = new("--dry-run") { Description = "Print the unit on stdout instead of writing it." };

    public static Command Create()
    {
        var command = new Command("install-service", "Write thawd.service, a systemd unit that runs `thaw serve` from this thaw's absolute path (Delegate=yes, KillMode=mixed, Restart=on-failure). Then: systemctl daemon-reload && systemctl enable --now thawd")
        {
            UnitDir, Config, DryRun,
        };
        command.SetAction(parse => Run(parse.GetValue(UnitDir)!, parse.GetValue(Config), parse.GetValue(DryRun)));
        return command;
    }

    private static int Run(string unitDir, string? config, bool dryRun)
    {
        if (config is not null)
        {
            config = Path.GetFullPath(config);
            ThawdConfiguration.Load(config, []); // a file thawd would refuse is refused now, with the same message
        }
        string unit = Unit(ThawExecutable(), DotnetRoot(), config);
        if (dryRun)
        {
            Console.Write(unit);
            return 0;
        }
        if (!Directory.Exists(unitDir))
            throw new ArgumentException($"unit dir {unitDir} does not exist (is this a systemd host? --dry-run prints the unit; README: other supervisors)");
        string path = Path.Combine(unitDir, "thawd.service");
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, unit);
        File.Move(temporary, path, overwrite: true);
        Console.WriteLine($"wrote {path}; start it with: systemctl daemon-reload && systemctl enable --now thawd");
        return 0;
    }

    /// <summary>The unit text: the template with the paths filled in, quoted as systemd reads them.</summary>
    internal static string Unit(string thaw, string dotnetRoot, string? config)
    {
        using var template = typeof(InstallServiceCommand).Assembly.GetManifestResourceStream("thawd.service")
            ?? throw new InvalidOperationException("thawd.service is missing from thaw's resources (is the build complete?)");
        string text = new StreamReader(template, Encoding.UTF8).ReadToEnd();
        return text
            .Replace("@THAW@", Word(thaw, argument: false), StringComparison.Ordinal)
            .Replace("@ARGS@", config is null ? "" : " --config " + Word(config, argument: true), StringComparison.Ordinal)
            .Replace("Environment=DOTNET_ROOT=@DOTNET_ROOT@", "Environment=" + Word("DOTNET_ROOT=" + dotnetRoot, argument: false), StringComparison.Ordinal);
    }

    /// <summary>
    /// The thaw apphost this process runs (or, run as `dotnet thaw.dll`, the one beside it): never the
    /// ./thaw wrapper script, which installs packages and builds before it runs anything.
    /// </summary>
    private static string ThawExecutable()
    {
        string path = Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "thaw" ? Environment.ProcessPath! : Path.Combine(AppContext.BaseDirectory, "thaw");
        if (!File.Exists(path))
            throw new InvalidOperationException($"thaw's executable {path} not found (run install-service from the built thaw)");
        return Path.GetFullPath(path);
    }

    /// <summary>The .NET install this runtime came from (…/shared/Microsoft.NETCore.App/VERSION/ → …).</summary>
    private static string DotnetRoot() =>
        Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } root ? Path.GetFullPath(root)
        : Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", "..")).TrimEnd('/');

    /// <summary>
    /// One word of a unit's command line or assignment, quoted when it must be: % doubled (a specifier
    /// everywhere), $ doubled in a command's arguments (where systemd expands variables; not in the
    /// program's path, nor in Environment=).
    /// </summary>
    internal static string Word(string text, bool argument)
    {
        string escaped = text.Replace("%", "%%", StringComparison.Ordinal);
        if (argument)
            escaped = escaped.Replace("$", "$$", StringComparison.Ordinal);
        if (escaped.All(c => char.IsAsciiLetterOrDigit(c) || "/._+-=:,@%$".Contains(c, StringComparison.Ordinal)))
            return escaped;
        return "\"" + escaped.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
    }
}
