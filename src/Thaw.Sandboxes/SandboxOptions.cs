using Thaw.Sandboxes.Zygotes;

namespace Thaw.Sandboxes;

/// <summary>How the spawner builds every sandbox. Defaults are what a multi-tenant host wants.</summary>
public sealed class SandboxOptions
{
    /// <summary>The unprivileged identity every sandbox runs as (nobody/nogroup).</summary>
    public int Uid { get; set; } = 65534;

    public int Gid { get; set; } = 65534;

    /// <summary>
    /// A mount namespace per sandbox (a copy of the zygote's small one, with the root attached as a
    /// detached tree), for a /proc of its own that shows only the sandbox's processes. Measured in
    /// docs/benchmarks.md: about +0.4–0.8 ms per start and 10–15 % more wall time in bursts here.
    /// </summary>
    public bool MountNamespace { get; set; } = true;

    /// <summary>
    /// How the exec runtime's sandboxes are made. By default thawd clones one that starts at once
    /// itself, with libthawspawn's vfork-style clone (thawd is its parent and reaps it; a crashed
    /// thawd's are killed by its zygote); one created to start later, or any with
    /// <see cref="SpawnVia.Helper"/>, by the same clone inside the zygote; with
    /// <see cref="SpawnVia.Fork"/> by forking the Python zygote itself (what Python functions always
    /// get). Measured in docs/benchmarks.md: thawd's clone makes bursts 20–40 % shorter than the
    /// zygote's (clones run on several threads, no round trip); a Python fork copies the
    /// interpreter's page tables, which costs milliseconds on this VM.
    /// </summary>
    public SpawnVia Via { get; set; } = SpawnVia.Thawd;

    /// <summary>The most of each of stdout and stderr kept per sandbox (the newest bytes win).</summary>
    public int LogLimitBytes { get; set; } = 1 << 20;

    /// <summary>How long delete waits for a killed sandbox to be reported dead.</summary>
    public TimeSpan KillTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public IReadOnlyDictionary<string, string> DefaultEnvironment { get; set; } = new Dictionary<string, string>
    {
        ["PATH"] = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
        ["HOME"] = "/tmp",
        ["LANG"] = "C.UTF-8",
    };

    public ZygoteOptions Zygote { get; set; } = new();

    public void Validate()
    {
        if (Uid <= 0 || Gid <= 0)
            throw new ArgumentException($"sandboxes must run as a non-root uid and gid (was {Uid}:{Gid})");
        if (LogLimitBytes <= 0)
            throw new ArgumentException($"SandboxOptions.LogLimitBytes must be positive (was {LogLimitBytes})");
        Zygote.Validate();
    }
}

/// <summary>See <see cref="SandboxOptions.Via"/>.</summary>
public enum SpawnVia
{
    Thawd,
    Helper,
    Fork,
}
