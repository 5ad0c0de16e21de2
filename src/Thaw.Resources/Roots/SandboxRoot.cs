namespace Thaw.Resources.Roots;

/// <summary>
/// One sandbox's root directory, ready to chroot into: a small read-only tmpfs holding the mount
/// points, the base OS dirs bound read-only (or recreated as symlinks), a minimal /dev, writable
/// size-limited /tmp and /host, and, while claimed, the function's code at /handler.
/// </summary>
public sealed class SandboxRoot
{
    internal SandboxRoot(int id, string path)
    {
        Id = id;
        Path = path;
    }

    public int Id { get; }

    /// <summary>The root directory on the host; the sandbox sees it as "/".</summary>
    public string Path { get; }

    /// <summary>The function's code, bound read-only at claim.</summary>
    public string HandlerDir => Combine("handler");

    /// <summary>The function's installed packages (install cache), bound read-only at claim when it has any.</summary>
    public string PackagesDir => Combine("packages");

    /// <summary>Writable scratch, a fresh size-limited tmpfs for every claim.</summary>
    public string TmpDir => Combine("tmp");

    /// <summary>Writable dir shared with thawd (the sandbox's socket lives here), fresh for every claim.</summary>
    public string HostDir => Combine("host");

    public string DevDir => Combine("dev");

    /// <summary>Empty mount point: the sandbox mounts its own proc inside its pid namespace.</summary>
    public string ProcDir => Combine("proc");

    /// <summary>The code dir bound at /handler while claimed; null while pooled.</summary>
    public string? CodeDir { get; internal set; }

    /// <summary>
    /// The sandbox that held it got only a detached clone of its mount tree (open_tree), attached in
    /// a mount namespace of its own: nothing it mounted or unmounted can have reached these mounts
    /// (they are private, so no propagation either), and the recycle skips checking them.
    /// </summary>
    public bool OnlyCloned { get; set; }

    public override string ToString() => Path;

    private string Combine(string name) => System.IO.Path.Combine(Path, name);
}
