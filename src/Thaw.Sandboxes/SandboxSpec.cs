using Thaw.Resources.Cgroups;

namespace Thaw.Sandboxes;

/// <summary>Which pooled network namespace a sandbox gets.</summary>
public enum SandboxNetwork
{
    /// <summary>Loopback only (the default).</summary>
    None,

    /// <summary>A veth to the host bridge, an address and a default route (the bridge pool must be enabled).</summary>
    Bridge,
}

/// <summary>What one sandbox runs and may use.</summary>
public sealed record SandboxSpec
{
    /// <summary>The program and its arguments; a bare name is looked up on the environment's PATH inside the sandbox.</summary>
    public IReadOnlyList<string> Argv { get; init; } = [];

    /// <summary>
    /// Instead of a program: the configuration of the zygote's handler runtime (src/python/runtime.py),
    /// which the forked child serves without an exec. The sandbox then has an invoke channel
    /// (<see cref="Sandbox.Channel"/>) and is always forked from the zygote (it needs the interpreter).
    /// </summary>
    public System.Text.Json.Nodes.JsonObject? Runtime { get; init; }

    /// <summary>The whole environment; null takes <see cref="SandboxOptions.DefaultEnvironment"/>.</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }

    /// <summary>Working directory inside the sandbox; null is /handler with code, / without.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>A host directory bound read-only at /handler.</summary>
    public string? CodeDir { get; init; }

    /// <summary>Bind <see cref="CodeDir"/> writable (an installer's output dir), not read-only.</summary>
    public bool CodeWritable { get; init; }

    /// <summary>A host directory bound read-only at /packages (the install cache).</summary>
    public string? PackagesDir { get; init; }

    public SandboxNetwork Network { get; init; } = SandboxNetwork.None;

    /// <summary>Memory, CPU and pids limits; null keeps the pool's defaults (no write on the request path).</summary>
    public CgroupLimits? Limits { get; init; }

    /// <summary>Killed this long after start; null runs until it exits or is killed.</summary>
    public TimeSpan? Timeout { get; init; }

    public string Hostname { get; init; } = "thaw";

    /// <summary>
    /// What the program reads on stdin (an exec function's event), then end of file; null gives it
    /// /dev/null. Written by thawd once the sandbox exists; a program that exits without reading it
    /// all is fine.
    /// </summary>
    public ReadOnlyMemory<byte>? Stdin { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> for a spec that cannot run, before anything is claimed.</summary>
    public void Validate()
    {
        if (Runtime is not null && Argv.Count > 0)
            throw new ArgumentException("a sandbox runs either a program or the handler runtime, not both");
        if (Runtime is null && (Argv.Count == 0 || string.IsNullOrEmpty(Argv[0])))
            throw new ArgumentException("no program given");
        if (Argv.Any(a => a.Contains('\0', StringComparison.Ordinal)))
            throw new ArgumentException("arguments may not contain NUL characters");
        if (CodeDir is not null && !Directory.Exists(CodeDir))
            throw new ArgumentException($"code dir '{CodeDir}' does not exist or is not a directory");
        if (CodeWritable && CodeDir is null)
            throw new ArgumentException("a writable code dir needs a code dir");
        if (PackagesDir is not null && !Directory.Exists(PackagesDir))
            throw new ArgumentException($"packages dir '{PackagesDir}' does not exist or is not a directory");
        if (Timeout is { } t && t <= TimeSpan.Zero)
            throw new ArgumentException($"timeout must be positive (was {t})");
        if (WorkingDirectory is { } cwd && !cwd.StartsWith('/'))
            throw new ArgumentException($"working directory '{cwd}' must be an absolute path inside the sandbox");
        if (Stdin is not null && Runtime is not null)
            throw new ArgumentException("the handler runtime reads its calls from its invoke socket, not stdin");
        if (Hostname.Length is 0 or > 64)
            throw new ArgumentException($"hostname '{Hostname}' must be 1 to 64 characters");
    }
}
