namespace Thaw.Runtimes.Python;

/// <summary>How Python functions' sandboxes are started.</summary>
public sealed class PythonRuntimeOptions
{
    /// <summary>
    /// How long a handler module may take to import and run its init when its function sets no
    /// <c>init_timeout</c>: the function's <c>timeout</c>, but at least <see cref="MinInitTimeout"/>
    /// and at most this (also the bound on building a zygote).
    /// </summary>
    public TimeSpan InitTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The floor of the derived init bound: a function with a 1 s timeout may still take this long to
    /// import its packages (a large import after idle on a busy node). AWS Lambda's init limit.
    /// </summary>
    public TimeSpan MinInitTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a stopped sandbox may take to exit by itself (its invoke socket closed) before it is killed.</summary>
    public TimeSpan StopGrace { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a killed sandbox may take to be reported gone.</summary>
    public TimeSpan KillTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often a start is tried when its zygote dies before the sandbox is ready (a killed or
    /// OOM-killed zygote): each retry goes to the zygote's replacement or its parent. The call was
    /// not delivered yet, so a retry is safe; a start that fails for any other reason is not retried.
    /// </summary>
    public int StartAttempts { get; set; } = 3;

    /// <summary>CPUs each sandbox may use (cgroup quota).</summary>
    public double CpuQuota { get; set; } = 1.0;

    public int PidsMax { get; set; } = 64;

    /// <summary>sys.path entries of every Python sandbox and zygote: the base image's system packages (Debian's python3-numpy, python3-pil).</summary>
    public IReadOnlyList<string> Paths { get; set; } = ["/usr/lib/python3/dist-packages"];

    /// <summary>The install cache for functions' `packages`; null refuses functions that list any.</summary>
    public Thaw.Runtimes.Packages.InstallCacheOptions? Packages { get; set; }

    /// <summary>Fresh interpreters each Morula function (isolation = "fresh") keeps started ahead.</summary>
    public int MorulaPool { get; set; } = 2;

    /// <summary>The import cache (zygote tree); null forks every sandbox from the root zygote.</summary>
    public ImportCacheOptions? ImportCache { get; set; } = new();

    /// <summary>The environment every function starts from; its manifest's environment is laid over it.</summary>
    public IReadOnlyDictionary<string, string> BaseEnvironment { get; set; } = new Dictionary<string, string>
    {
        ["PATH"] = "/usr/local/bin:/usr/bin:/bin",
        ["HOME"] = "/tmp",
        ["LANG"] = "C.UTF-8",
        ["PYTHONDONTWRITEBYTECODE"] = "1",
    };
}
