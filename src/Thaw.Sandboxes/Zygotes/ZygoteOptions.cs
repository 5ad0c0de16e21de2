namespace Thaw.Sandboxes.Zygotes;

/// <summary>How thawd starts its zygote.</summary>
public sealed class ZygoteOptions
{
    /// <summary>
    /// The base image's interpreter. Not whatever "python3" is first on PATH: the zygote chroots into
    /// a root made of the host's /usr, so its interpreter and stdlib must live there.
    /// </summary>
    public string Python { get; set; } = "/usr/bin/python3";

    /// <summary>The folder holding zygote.py and libthawspawn.so, bound read-only at the zygote's /handler.</summary>
    public string Directory { get; set; } = Path.Combine(AppContext.BaseDirectory, "zygote");

    /// <summary>
    /// Every sandbox, on every spawn path, installs <see cref="SandboxSeccomp"/>'s filter last in its
    /// setup (compiled once per process with libseccomp). Off only to measure what it costs.
    /// </summary>
    public bool Seccomp { get; set; } = true;

    /// <summary>How long a zygote may take to enter its sandbox and listen.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Children the zygote keeps forked ahead, each waiting to become a sandbox forked from it (the
    /// Python runtime's path; the exec runtime's vfork spawn does not use them). Measured in
    /// docs/benchmarks.md: a fork plus Python's after-fork work costs milliseconds here.
    /// </summary>
    public int Parked { get; set; } = 1;

    /// <summary>
    /// The most children a zygote keeps parked when demand asks for more than <see cref="Parked"/>:
    /// after N fork claims within one second it keeps N (up to this) for the next
    /// <see cref="ParkMemory"/>, so a repeated burst finds them waiting instead of forks queued
    /// behind one single-threaded zygote. 0 parked means none, whatever the demand.
    /// </summary>
    public int MaxParked { get; set; } = 64;

    /// <summary>How long a burst's size is remembered for the parked target.</summary>
    public TimeSpan ParkMemory { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// The most memory one zygote's parked children may hold together, above <see cref="Parked"/>: a
    /// parked child holds the pages of its zygote's touch profile (about 3 MiB for the bare runtime),
    /// charged to the cgroup it joined.
    /// </summary>
    public long MaxParkedBytes { get; set; } = 512L << 20;

    /// <summary>
    /// The memory limit of the zygotes' cgroup (the root zygote and the import cache's, which its forks
    /// share). Besides the zygotes' own memory it holds pages a zygote copied after a fork while a
    /// sandbox still maps the old copy: the kernel keeps such a page charged where it was first
    /// charged, so this grows with live sandboxes (1–1.6 MiB each for the bare runtime) and a small
    /// limit gets a zygote OOM-killed under many of them (2,500 idle hellos filled 4 GiB). thawd raises
    /// it to its memory budget, which counts what the cgroup holds. It still contains a package whose
    /// import code runs away in a child zygote.
    /// </summary>
    public long MemoryLimitBytes { get; set; } = 4L << 30;

    /// <summary>The parked-children bounds these options give.</summary>
    internal ParkPolicy ParkPolicy => Parked == 0 ? ParkPolicy.Fixed(0) : new ParkPolicy(Parked, Math.Max(Parked, MaxParked), ParkMemory, MaxParkedBytes);

    /// <summary>
    /// Parked children take, while they wait, the copy-on-write faults their sandbox would take: of
    /// the pages the zygote's first sandboxes were seen to write after their first call (its touch
    /// profile, read by thawd from their pagemap). Off saves that CPU and memory per parked child.
    /// </summary>
    public bool Prefault { get; set; } = true;

    /// <summary>
    /// The install cache, bound read-only at /packages in the zygote's root (as in every Python
    /// sandbox's), so the import cache's zygotes can import installed packages from the same paths.
    /// </summary>
    public string? PackagesDir { get; set; }

    public string ScriptPath => Path.Combine(Directory, "zygote.py");

    /// <summary>The exec runtime's native spawn (src/native/thaw-spawn.c); the zygote forks in Python without it.</summary>
    public string NativePath => Path.Combine(Directory, "libthawspawn.so");

    /// <summary>Throws an <see cref="ArgumentException"/> naming what is missing.</summary>
    public void Validate()
    {
        if (!File.Exists(Python))
            throw new ArgumentException($"zygote interpreter {Python} not found (install Debian's python3)");
        if (!File.Exists(ScriptPath))
            throw new ArgumentException($"zygote server {ScriptPath} not found (is the build output complete?)");
        if (Parked is < 0 or > 64)
            throw new ArgumentException($"ZygoteOptions.Parked must be 0 to 64 (was {Parked})");
        if (MaxParked is < 0 or > 256)
            throw new ArgumentException($"ZygoteOptions.MaxParked must be 0 to 256 (was {MaxParked})");
        if (MemoryLimitBytes < 16L << 20)
            throw new ArgumentException($"ZygoteOptions.MemoryLimitBytes must be at least 16 MiB (was {MemoryLimitBytes})");
        if (MaxParkedBytes < 0)
            throw new ArgumentException($"ZygoteOptions.MaxParkedBytes must not be negative (was {MaxParkedBytes})");
        if (ParkMemory <= TimeSpan.Zero || ParkMemory > TimeSpan.FromHours(1))
            throw new ArgumentException($"ZygoteOptions.ParkMemory must be more than 0 and at most 1h (was {ParkMemory})");
        if (StartTimeout <= TimeSpan.Zero)
            throw new ArgumentException($"ZygoteOptions.StartTimeout must be positive (was {StartTimeout})");
    }
}
