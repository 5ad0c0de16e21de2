using System.Runtime.InteropServices;

namespace Thaw.Linux.Processes;

/// <summary>What <see cref="NativeSpawn.Spawn"/> puts a new process into: its namespaces, root, cgroups, stdio, identity and program.</summary>
public sealed class NativeSpawnRequest
{
    /// <summary>A mount namespace to enter first (whose copy the process then gets), or null.</summary>
    public SafeFd? MountNamespace { get; init; }

    /// <summary>The root as a detached mount tree (open_tree), attached in the process's own mount namespace.</summary>
    public required SafeFd Tree { get; init; }

    public required SafeFd Netns { get; init; }

    public required SafeFd Stdin { get; init; }

    public required SafeFd Stdout { get; init; }

    public required SafeFd Stderr { get; init; }

    /// <summary>cgroup.procs files (opened for writing) the process joins.</summary>
    public required IReadOnlyList<SafeFd> Cgroups { get; init; }

    public required uint Uid { get; init; }

    public required uint Gid { get; init; }

    public required string Hostname { get; init; }

    public required string WorkingDirectory { get; init; }

    public required IReadOnlyList<string> Argv { get; init; }

    /// <summary>KEY=VALUE entries.</summary>
    public required IReadOnlyList<string> Environment { get; init; }

    /// <summary>A seccomp filter (BPF, 8 bytes an instruction) the process installs last in its setup, or null.</summary>
    public byte[]? SeccompFilter { get; init; }
}

/// <summary>
/// Starts a process straight into new pid, ipc, uts and mount namespaces with libthawspawn
/// (src/native/thaw-spawn.c) loaded into this process: a <c>clone(CLONE_VM | CLONE_VFORK |
/// CLONE_NEWPID | CLONE_PIDFD)</c> whose child runs only C code on its own stack, enters everything
/// and execs — the construction dotnet's own <c>Process.Start</c> uses (pal_process.c: vfork, all
/// signals blocked around it, every handler reset in the child), so it is safe in a .NET process
/// where fork is not. The caller's thread waits until the child has exec'd or died.
/// </summary>
public static unsafe class NativeSpawn
{
    private const int CLONE_NEWNS = 0x00020000;
    private const int CLONE_NEWUTS = 0x04000000;
    private const int CLONE_NEWIPC = 0x08000000;
    private static readonly Lock Loading = new();
    private static delegate* unmanaged<ThawSpawn*, int> s_spawn;
    private static delegate* unmanaged<nint*, nint, nint> s_layout;

    [StructLayout(LayoutKind.Sequential)]
    private struct ThawSpawn
    {
        public int Root, Tree, Netns, In, Out, Err, Status, Start, Keep;
        public int* Cgroups;
        public int NCgroups, NsFlags, NewPid, MountProc, Vfork;
        public uint Uid, Gid;
        public byte* Hostname, Cwd;
        public byte** Argv, Envp;
        public int MountNs, Pidfd, WantPidfd, Direct;
        public fixed ulong Mask[16]; // glibc's sigset_t
        public byte* Filter;
        public uint FilterLength;
    }

    /// <summary>Loads libthawspawn from <paramref name="path"/> (once per process).</summary>
    public static void Load(string path)
    {
        lock (Loading)
        {
            if (s_spawn != null)
                return;
            var library = NativeLibrary.Load(path);
            s_spawn = (delegate* unmanaged<ThawSpawn*, int>)NativeLibrary.GetExport(library, "thaw_spawn");
            s_layout = (delegate* unmanaged<nint*, nint, nint>)NativeLibrary.GetExport(library, "thaw_spawn_layout");
        }
    }

    /// <summary>
    /// The managed mirror's size and field offsets, in the order <c>thaw_spawn_layout</c> gives the C
    /// struct's (a test holds the two equal).
    /// </summary>
    internal static nint[] ManagedLayout() =>
    [
        sizeof(ThawSpawn),
        .. new[]
        {
            nameof(ThawSpawn.Root), nameof(ThawSpawn.Tree), nameof(ThawSpawn.Netns), nameof(ThawSpawn.In), nameof(ThawSpawn.Out), nameof(ThawSpawn.Err),
            nameof(ThawSpawn.Status), nameof(ThawSpawn.Start), nameof(ThawSpawn.Keep), nameof(ThawSpawn.Cgroups), nameof(ThawSpawn.NCgroups),
            nameof(ThawSpawn.NsFlags), nameof(ThawSpawn.NewPid), nameof(ThawSpawn.MountProc), nameof(ThawSpawn.Vfork), nameof(ThawSpawn.Uid),
            nameof(ThawSpawn.Gid), nameof(ThawSpawn.Hostname), nameof(ThawSpawn.Cwd), nameof(ThawSpawn.Argv), nameof(ThawSpawn.Envp),
            nameof(ThawSpawn.MountNs), nameof(ThawSpawn.Pidfd), nameof(ThawSpawn.WantPidfd), nameof(ThawSpawn.Direct), nameof(ThawSpawn.Mask),
            nameof(ThawSpawn.Filter), nameof(ThawSpawn.FilterLength),
        }.Select(field => Marshal.OffsetOf<ThawSpawn>(field)),
    ];

    /// <summary>The C struct's size and field offsets (<c>thaw_spawn_layout</c> of the loaded library).</summary>
    internal static nint[] NativeLayout()
    {
        if (s_layout == null)
            throw new InvalidOperationException("libthawspawn is not loaded (NativeSpawn.Load)");
        var layout = new nint[64];
        fixed (nint* p = layout)
        {
            nint count = s_layout(p, layout.Length);
            return layout[..(int)count];
        }
    }

    /// <summary>
    /// Starts the process; returns its pid and a pidfd for it (this process is its parent and must
    /// reap it). <paramref name="status"/>, a pipe's write end, gets "exec" just before the exec, or
    /// "error ..." when the setup failed (the child then exits 126, or 127 if the exec failed).
    /// </summary>
    public static (int Pid, SafeFd Pidfd) Spawn(NativeSpawnRequest r, SafeFd status)
    {
        if (s_spawn == null)
            throw new InvalidOperationException("libthawspawn is not loaded (NativeSpawn.Load)");
        var strings = new List<nint>();
        byte* Utf8(string s)
        {
            nint p = Marshal.StringToCoTaskMemUTF8(s);
            strings.Add(p);
            return (byte*)p;
        }
        byte** Array(IReadOnlyList<string> items)
        {
            var array = (byte**)Marshal.AllocCoTaskMem((items.Count + 1) * sizeof(byte*));
            strings.Add((nint)array);
            for (int i = 0; i < items.Count; i++)
                array[i] = Utf8(items[i]);
            array[items.Count] = null;
            return array;
        }
        var handles = new List<SafeHandle>();
        int Fd(SafeFd? fd)
        {
            if (fd is null)
                return -1;
            bool added = false;
            fd.DangerousAddRef(ref added);
            if (added)
                handles.Add(fd);
            return fd.Value;
        }
        int* cgroups = stackalloc int[Math.Max(1, r.Cgroups.Count)];
        // Pinned until the vfork returns: the child installs it before its exec.
        fixed (byte* filter = r.SeccompFilter)
        {
            try
            {
                for (int i = 0; i < r.Cgroups.Count; i++)
                    cgroups[i] = Fd(r.Cgroups[i]);
                var spec = new ThawSpawn
                {
                    Root = -1, Tree = Fd(r.Tree), Netns = Fd(r.Netns), In = Fd(r.Stdin), Out = Fd(r.Stdout), Err = Fd(r.Stderr),
                    Status = Fd(status), Start = -1, Keep = -1, Cgroups = cgroups, NCgroups = r.Cgroups.Count,
                    NsFlags = CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS, NewPid = 1, MountProc = 1, Vfork = 1,
                    Uid = r.Uid, Gid = r.Gid, Hostname = Utf8(r.Hostname), Cwd = Utf8(r.WorkingDirectory),
                    Argv = Array(r.Argv), Envp = Array(r.Environment),
                    MountNs = Fd(r.MountNamespace), Pidfd = -1, WantPidfd = 1, Direct = 1,
                    Filter = filter, FilterLength = (uint)((r.SeccompFilter?.Length ?? 0) / 8),
                };
                int pid = s_spawn(&spec);
                if (pid < 0)
                    throw new LinuxException("clone", -pid, r.Argv.Count > 0 ? r.Argv[0] : null);
                return (pid, new SafeFd(spec.Pidfd));
            }
            finally
            {
                foreach (var handle in handles)
                    handle.DangerousRelease();
                foreach (var p in strings)
                {
                    if (p != 0)
                        Marshal.FreeCoTaskMem(p);
                }
            }
        }
    }
}
