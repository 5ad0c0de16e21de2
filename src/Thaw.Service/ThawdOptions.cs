using Thaw.Resources;
using Thaw.Runtimes.Packages;
using Thaw.Runtimes.Python;
using Thaw.Sandboxes;
using Thaw.Service.Deploy;
using Thaw.Service.Scheduling;

namespace Thaw.Service;

/// <summary>Everything thawd needs, with the defaults one node wants. `thaw serve` fills it from thawd.toml, THAW_* variables and its flags (Configuration/ThawdConfiguration).</summary>
public sealed class ThawdOptions
{
    /// <summary>Where the HTTP API listens: host:port (port 0 picks a free one). Loopback by default: the API has no authentication.</summary>
    public string Listen { get; set; } = "127.0.0.1:8080";

    /// <summary>A Unix socket to serve the API on as well (mode 0600), or null.</summary>
    public string? UnixSocket { get; set; }

    /// <summary>Pools, names and the state dir (the registry, code and install cache live under it too).</summary>
    public ThawOptions Resources { get; set; } = new();

    public SandboxOptions Sandboxes { get; set; } = new() { LogLimitBytes = 64 << 10 };

    /// <summary>Exec functions' sandboxes: CPU, pids, the largest result, the base environment.</summary>
    public Thaw.Runtimes.Exec.ExecRuntimeOptions Exec { get; set; } = new();

    public PythonRuntimeOptions Python { get; set; } = new();

    public HandlerCacheOptions HandlerCache { get; set; } = new();

    public FunctionArchiveOptions Archives { get; set; } = new();

    /// <summary>The largest event an invoke accepts (AWS Lambda's synchronous limit is 6 MB).</summary>
    public long MaxEventBytes { get; set; } = 6L << 20;

    /// <summary>
    /// RLIMIT_NOFILE thawd raises itself to at start (never lowers; 0 leaves it). thawd holds a
    /// handful of descriptors per live sandbox (its sockets, its cgroup's procs files, its pidfd), so a
    /// distribution's usual 1,024 or a container's 20,000 caps a node at a few hundred or a few
    /// thousand sandboxes; containerd's and dockerd's service units run with 1,048,576. Zygotes and
    /// sandboxes inherit it; each sandbox's memory limit still bounds what its descriptors cost.
    /// </summary>
    public long OpenFilesLimit { get; set; } = 1L << 20;

    /// <summary>
    /// How much recent log each function keeps in memory; on disk (<see cref="LogDir"/>, so it
    /// survives a restart) at most twice this: the current file and the one before.
    /// </summary>
    public int FunctionLogBytes { get; set; } = 256 << 10;

    /// <summary>
    /// At deploy, start one sandbox to prove the handler loads (a bad handler is a 400 then, not a
    /// failed first call) and, when it imports packages, build its zygote in the import cache so the
    /// first call already forks from it.
    /// </summary>
    public bool ValidateOnDeploy { get; set; } = true;

    /// <summary>A local directory of wheels for functions' packages (the install cache's offline source), or null.</summary>
    public string? Wheelhouse { get; set; }

    /// <summary>A pip index (PEP 503 simple pages) for functions' packages, or null.</summary>
    public string? IndexUrl { get; set; }

    /// <summary>
    /// Zygotes to build at start (import cache seed: one per line, its modules separated by spaces or
    /// commas), besides those of the registered functions' last deploys.
    /// </summary>
    public string? ZygoteSeed { get; set; }

    public string RegistryPath => Path.Combine(Resources.StateDir, "registry.db");

    public string CodeDir => Path.Combine(Resources.StateDir, "functions");

    public string InstallCacheDir => Path.Combine(Resources.StateDir, "packages");

    /// <summary>Functions' logs: <c>NAME.log</c> and <c>NAME.log.1</c> each.</summary>
    public string LogDir => Path.Combine(Resources.StateDir, "logs");

    /// <summary>A function's log file (names are a-z, 0-9 and '-': safe as file names).</summary>
    public string LogPath(string function) => Path.Combine(LogDir, function + ".log");

    /// <summary>Checks what thawd adds to the layers' own checks; throws one message naming every problem.</summary>
    public void Validate()
    {
        var problems = new List<string>();
        if (!Endpoint.TryParse(Listen, out _))
            problems.Add($"listen address '{Listen}' must be host:port (e.g. 127.0.0.1:8080)");
        if (MaxEventBytes < 1024)
            problems.Add($"max event size {MaxEventBytes} bytes is below 1 KiB");
        if (OpenFilesLimit < 0)
            problems.Add($"open files limit {OpenFilesLimit} is negative");
        if (FunctionLogBytes < 1024)
            problems.Add($"function log size {FunctionLogBytes} bytes is below 1 KiB");
        if (Wheelhouse is not null && !Directory.Exists(Wheelhouse))
            problems.Add($"wheelhouse {Wheelhouse} does not exist");
        if (ZygoteSeed is not null && !File.Exists(ZygoteSeed))
            problems.Add($"zygote seed file {ZygoteSeed} does not exist");
        if (IndexUrl is not null && !Uri.TryCreate(IndexUrl, UriKind.Absolute, out _))
            problems.Add($"index URL '{IndexUrl}' is not an absolute URL");
        if (problems.Count > 0)
            throw new ArgumentException(string.Join("; ", problems));
        HandlerCache.Validate();
        Sandboxes.Validate();
    }

    /// <summary>The install cache under the state dir, with the configured sources.</summary>
    internal InstallCacheOptions InstallCache() => new() { Root = InstallCacheDir, Wheelhouse = Wheelhouse, IndexUrl = IndexUrl };
}
