namespace Thaw.Runtimes.Python;

/// <summary>How Python functions' sandboxes are started.</summary>
public sealed class PythonRuntimeOptions
{
    /// <summary>How long a handler module may take to import and run its init.</summary>
    public TimeSpan InitTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a stopped sandbox may take to exit by itself (its invoke socket closed) before it is killed.</summary>
    public TimeSpan StopGrace { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a killed sandbox may take to be reported gone.</summary>
    public TimeSpan KillTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>CPUs each sandbox may use (cgroup quota).</summary>
    public double CpuQuota { get; set; } = 1.0;

    public int PidsMax { get; set; } = 64;

    /// <summary>The environment every function starts from; its manifest's environment is laid over it.</summary>
    public IReadOnlyDictionary<string, string> BaseEnvironment { get; set; } = new Dictionary<string, string>
    {
        ["PATH"] = "/usr/local/bin:/usr/bin:/bin",
        ["HOME"] = "/tmp",
        ["LANG"] = "C.UTF-8",
        ["PYTHONDONTWRITEBYTECODE"] = "1",
    };
}
