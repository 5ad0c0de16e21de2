using System.Net;
using System.Net.Sockets;
using Thaw.Linux.Cgroups;
using Thaw.Linux.Processes;
using Thaw.Service.Configuration;
using Thaw.Tests.Support;
using Tomlyn;
using Tomlyn.Model;

namespace Thaw.Tests.Cli;

/// <summary>
/// thawd's configuration as an operator gives it: a thawd.toml, THAW_* variables and flags, to a real
/// `thaw serve` process (the environment is the child's own), with --print-config saying what won.
/// </summary>
public sealed class ServeConfigTests : IDisposable
{
    private readonly Thaw.Resources.ThawNaming _naming = TestInstance.NewNaming("thawc");
    private readonly ServeProcesses _serve;
    private readonly string _dir = TestInstance.NewTempDir("thaw-test-config-");

    public ServeConfigTests() => _serve = new ServeProcesses(_naming);

    [Fact]
    public async Task Flags_override_variables_which_override_the_file_which_overrides_the_defaults()
    {
        string file = Write("thawd.toml", $"""
            name = "{_naming.Name}"
            [api]
            listen = "127.0.0.1:9071"
            max_event = "1M"
            [handler_cache]
            keep_alive = "5m"
            freeze_after = "2s"
            queue_length = 7
            [pools.netns]
            size = 8
            [pools.roots]
            size = 3
            """);
        var (code, stdout, stderr) = await CommandRuns.ThawAsync(["serve", "--config", file, "--freeze-after", "3s", "--print-config"], new Dictionary<string, string>
        {
            ["THAW_HANDLER_CACHE__KEEP_ALIVE"] = "1m",
            ["THAW_HANDLER_CACHE__FREEZE_AFTER"] = "9s",
            ["THAW_POOLS__SIZE"] = "5",
            ["THAW_API__MAX_ARCHIVE"] = "16M",
            ["THAW_URL"] = "http://127.0.0.1:1", // the client's variable: not thawd's, not refused
        });
        Assert.True(code == 0, stderr);
        var lines = Lines(stdout);
        Assert.Equal(("1048576", "default"), lines["open_files"]);                                            // nobody set it
        Assert.Equal(($"\"{_naming.Name}\"", file), lines["name"]);                                            // the file
        Assert.Equal(("\"1M\"", file), lines["api.max_event"]);
        Assert.Equal(("\"16M\"", "environment THAW_API__MAX_ARCHIVE"), lines["api.max_archive"]);             // a variable alone
        Assert.Equal(("\"1m\"", "environment THAW_HANDLER_CACHE__KEEP_ALIVE"), lines["handler_cache.keep_alive"]); // variable over file
        Assert.Equal(("\"3s\"", "flag --freeze-after"), lines["handler_cache.freeze_after"]);                 // flag over variable over file
        Assert.Equal(("7", file), lines["handler_cache.queue_length"]);
        // pools.size sets every pool; a pool's own size wins where it is set at the same or a higher level.
        Assert.Equal(("5", "environment THAW_POOLS__SIZE"), lines["pools.size"]);
        Assert.Equal(("5", "environment THAW_POOLS__SIZE (as pools.size)"), lines["pools.netns.size"]);       // the file's 8 is lower
        Assert.Equal(("5", "environment THAW_POOLS__SIZE (as pools.size)"), lines["pools.cgroups.size"]);

        // What it prints is a thawd.toml that gives the same configuration, every value from that file.
        string printed = Write("printed.toml", stdout);
        var again = await CommandRuns.ThawAsync(["serve", "--config", printed, "--print-config"]);
        Assert.True(again.Code == 0, again.Stderr);
        var relines = Lines(again.Stdout);
        Assert.Equal(lines.Select(l => (l.Key, l.Value.Value)).Order(), relines.Select(l => (l.Key, l.Value.Value)).Order());
        Assert.All(relines.Where(l => l.Value.Value is not null), l => Assert.Equal(printed, l.Value.Origin));

        // The flag --pool-size beats a variable's pool size.
        (code, stdout, stderr) = await CommandRuns.ThawAsync(["serve", "--config", file, "--pool-size", "2", "--print-config"], new Dictionary<string, string> { ["THAW_POOLS__NETNS__SIZE"] = "6" });
        Assert.True(code == 0, stderr);
        Assert.Equal(("2", "flag --pool-size (as pools.size)"), Lines(stdout)["pools.netns.size"]);
    }

    [Fact]
    public async Task Unknown_keys_and_bad_values_stop_it_at_start_with_one_line_naming_where_the_key_and_the_problem()
    {
        string typo = Write("typo.toml", "[handler-cache]\nkeep_alive = \"5m\"\n");
        await RefusedAsync(["--config", typo], [], $"thaw: {typo}: handler-cache.keep_alive: unknown table [handler-cache], did you mean 'handler_cache'?");
        string empty = Write("empty.toml", "[handlercache]\n");
        await RefusedAsync(["--config", empty], [], $"thaw: {empty}: handlercache: unknown table [handlercache], did you mean 'handler_cache'?");
        string twice = Write("twice.toml", "[api]\nlisten = \"127.0.0.1:1\"\nlisten = \"127.0.0.1:2\"\n");
        await RefusedAsync(["--config", twice], [], $"thaw: {twice}: not valid TOML: line 3, column 1:");
        string unknown = Write("unknown.toml", "[api]\nlisen = \"127.0.0.1:1\"\n");
        await RefusedAsync(["--config", unknown], [], $"thaw: {unknown}: api.lisen: unknown key 'lisen' in [api], did you mean 'listen'?");
        string bad = Write("bad.toml", "[handler_cache]\nkeep_alive = \"10 minutes\"\n");
        await RefusedAsync(["--config", bad], [], $"thaw: {bad}: handler_cache.keep_alive: '10 minutes' is not a duration");
        string array = Write("array.toml", "[pools]\nsize = [1, 2]\n");
        await RefusedAsync(["--config", array], [], $"thaw: {array}: pools.size: must be one value (integer), not a table or an array");
        await RefusedAsync([], new() { ["THAW_API__LISEN"] = "127.0.0.1:1" }, "thaw: environment THAW_API__LISEN (API.LISEN): unknown key 'LISEN' in [api], did you mean 'listen'?");
        await RefusedAsync([], new() { ["THAW_POOLS__SIZE"] = "0" }, "thaw: environment THAW_POOLS__SIZE (pools.size): 0 must be from 1 to 1024");
        await RefusedAsync(["--max-event", "lots"], [], "thaw: --max-event (api.max_event): 'lots' is not a size");
        await RefusedAsync(["--memory-accounting", "guess"], [], "thaw: --memory-accounting (handler_cache.memory_accounting): 'guess' must be one of measured, limits");
        // A file's bad value is refused even where a flag overrides it: the file is checked as a whole.
        await RefusedAsync(["--config", bad, "--keep-alive", "1m"], [], $"thaw: {bad}: handler_cache.keep_alive: '10 minutes' is not a duration");
    }

    [Fact]
    public async Task A_missing_config_file_is_an_error_and_a_missing_default_file_is_not()
    {
        string missing = Path.Combine(_dir, "missing.toml");
        await RefusedAsync(["--config", missing], [], $"thaw: {missing}: no such file (--config)");

        // /etc/thaw/thawd.toml in a mount namespace of the test's own (the host's /etc is untouched):
        // first hidden (an empty tmpfs over /etc/thaw, if the host has one), then an overlay of /etc holding one.
        string thaw = $"dotnet {CommandRuns.ThawDll} serve --print-config";
        string script = $"""
            set -e
            if [ -d /etc/thaw ]; then mount -t tmpfs none /etc/thaw; fi
            {thaw}
            echo ----
            mount -t tmpfs none {_dir}
            mkdir -p {_dir}/upper/thaw {_dir}/work
            printf 'name = "{_naming.Name}"\n' > {_dir}/upper/thaw/thawd.toml
            mount -t overlay overlay -o lowerdir=/etc,upperdir={_dir}/upper,workdir={_dir}/work /etc
            {thaw}
            """;
        var (code, stdout, stderr) = await CommandRuns.RunAsync("unshare", ["--mount", "--propagation", "private", "--", "/bin/sh", "-c", script]);
        Assert.True(code == 0, stderr);
        string[] runs = stdout.Split("----\n");
        Assert.Contains("# file: /etc/thaw/thawd.toml (not found)\n", runs[0], StringComparison.Ordinal);
        Assert.Equal(("\"thaw\"", "default"), Lines(runs[0])["name"]);
        Assert.Contains("# file: /etc/thaw/thawd.toml\n", runs[1], StringComparison.Ordinal);
        Assert.Equal(($"\"{_naming.Name}\"", "/etc/thaw/thawd.toml"), Lines(runs[1])["name"]);
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), l => l.Contains(_dir, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Thawd_runs_with_the_name_port_and_state_dir_its_file_gives()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        string file = Write("thawd.toml", $"""
            name = "{_naming.Name}"
            state_dir = "{_naming.StateDir}"
            log_level = "warning"
            [api]
            listen = "127.0.0.1:{port}"
            [pools]
            size = 2
            """);
        var (serve, url) = await _serve.StartWithAsync(["serve", "--config", file]);
        Assert.Equal($"http://127.0.0.1:{port}/", url);
        using (var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(60) })
            Assert.Contains("\"ok\"", await http.GetStringAsync("healthz"), StringComparison.Ordinal);
        // The instance's kernel objects carry the file's name, its state the file's dir.
        Assert.Contains(CgroupHierarchy.Detect().MountPaths, m => Directory.Exists(Path.Combine(m, _naming.Name)));
        Assert.True(File.Exists(Path.Combine(_naming.StateDir, "registry.db")));

        Assert.True(Signals.Terminate(serve.Id));
        await serve.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, serve.ExitCode);
        Assert.Empty(LeakCensus.MountsUnder(_naming.StateDir));
        Assert.DoesNotContain(CgroupHierarchy.Detect().MountPaths, m => Directory.Exists(Path.Combine(m, _naming.Name)));
    }

    [Fact]
    public void The_reference_describes_every_key_and_its_example_is_a_valid_configuration()
    {
        string text = File.ReadAllText(Support.RepoFiles.Find("docs/thawd-toml.md"));
        foreach (var setting in ThawdSettings.All)
        {
            Assert.Contains($"| `{setting.Name}` |", text, StringComparison.Ordinal);
            Assert.Contains($"`{setting.EnvironmentName}`", text, StringComparison.Ordinal);
            if (setting.Flag is not null)
                Assert.Contains($"`{setting.Flag}`", text, StringComparison.Ordinal);
        }
        var examples = System.Text.RegularExpressions.Regex.Matches(text, "```toml\n(.*?)```", System.Text.RegularExpressions.RegexOptions.Singleline);
        Assert.NotEmpty(examples);
        foreach (System.Text.RegularExpressions.Match example in examples)
            ThawdConfiguration.Load(Write("example.toml", example.Groups[1].Value), []);
    }

    /// <summary>`thaw serve ARGS` with <paramref name="environment"/> must exit 1 before starting, with one line on stderr that starts with <paramref name="message"/>.</summary>
    private async Task RefusedAsync(string[] args, Dictionary<string, string> environment, string message)
    {
        var (code, stdout, stderr) = await CommandRuns.ThawAsync(["serve", "--name", _naming.Name, "--state-dir", _naming.StateDir, "--listen", "127.0.0.1:0", .. args], environment);
        Assert.Equal(1, code);
        Assert.True(stderr.StartsWith(message, StringComparison.Ordinal), $"expected '{message}…', got: {stderr}");
        Assert.Single(stderr.TrimEnd('\n').Split('\n')); // one line: no stack trace
        Assert.DoesNotContain("thawd ready", stdout, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_naming.StateDir), "nothing was started");
    }

    /// <summary>The key → (value, origin) lines of --print-config's output; an unset key's value is null.</summary>
    private static Dictionary<string, (string? Value, string Origin)> Lines(string printed)
    {
        Assert.NotNull(TomlSerializer.Deserialize<TomlTable>(printed)); // valid TOML
        var lines = new Dictionary<string, (string?, string)>();
        string section = "";
        foreach (string line in printed.Split('\n'))
        {
            var match = System.Text.RegularExpressions.Regex.Match(line, @"^(?:(\w+) = (.*?)|# (\w+) is not set)\s+# (.+)$");
            if (line.StartsWith('['))
                section = line.Trim('[', ']') + ".";
            else if (match.Success)
                lines[section + (match.Groups[1].Success ? match.Groups[1].Value : match.Groups[3].Value)] = (match.Groups[2].Success ? match.Groups[2].Value : null, match.Groups[4].Value);
        }
        Assert.Equal(ThawdSettings.All.Count, lines.Count);
        return lines;
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose()
    {
        _serve.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
