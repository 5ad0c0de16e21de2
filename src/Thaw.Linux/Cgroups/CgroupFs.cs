using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Thaw.Linux.Cgroups;

/// <summary>
/// The cgroup filesystem, one file at a time. Writes go through open/write so a refusal surfaces
/// as the kernel's errno naming the file and the value ("write(…/memory.max, 1) failed: EINVAL"):
/// the kernel validates limits only at write time and .NET's IOException would hide which one.
/// </summary>
public static class CgroupFs
{
    /// <summary>Creates a cgroup directory; with <paramref name="existOk"/>, an existing one is fine.</summary>
    public static void CreateDirectory(string path, bool existOk = false)
    {
        if (Interop.Mkdir(path, 0x1ED /* 0755 */) == 0)
            return;
        int errno = Marshal.GetLastPInvokeError();
        if (!(existOk && errno == Interop.EEXIST))
            throw new LinuxException("mkdir", errno, path);
    }

    /// <summary>
    /// Writes <paramref name="value"/> to a control file in one write(2), as the kernel expects. A
    /// write that must reclaim (a memory limit lowered below what the cgroup holds) returns EINTR when
    /// a signal arrives meanwhile, and the .NET runtime signals its threads (GC suspension): such a
    /// write is made again.
    /// </summary>
    public static unsafe void Write(string file, string value)
    {
        using var fd = new SafeFd(LinuxException.ThrowIfFailed(
            Interop.Open(file, Interop.O_WRONLY | Interop.O_CLOEXEC, 0), "open", file));
        var bytes = Encoding.UTF8.GetBytes(value);
        fixed (byte* p = bytes)
        {
            for (int attempt = 1; ; attempt++)
            {
                if (Interop.Write(fd.Value, p, bytes.Length) >= 0)
                    return;
                int errno = Marshal.GetLastPInvokeError();
                if (errno != Interop.EINTR || attempt == MaxInterruptedWrites)
                    throw new LinuxException("write", errno, $"{file}, {value}");
            }
        }
    }

    private const int MaxInterruptedWrites = 100;

    /// <summary>Reads a control file, without the trailing newline.</summary>
    public static string Read(string file) => File.ReadAllText(file).TrimEnd('\n');

    /// <summary>Reads a control file of "key value" lines (memory.stat, cgroup.events) and returns one key's value.</summary>
    public static string? ReadKey(string file, string key)
    {
        foreach (var line in File.ReadLines(file))
        {
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space > 0 && line.AsSpan(0, space).SequenceEqual(key))
                return line[(space + 1)..];
        }
        return null;
    }

    public static long ReadInt64(string file) => long.Parse(Read(file), CultureInfo.InvariantCulture);

    /// <summary>The processes (thread-group ids) in one cgroup, not its descendants.</summary>
    public static IReadOnlyList<int> ReadProcs(string dir)
    {
        try
        {
            return [.. File.ReadLines(Path.Combine(dir, "cgroup.procs")).Select(l => int.Parse(l, CultureInfo.InvariantCulture))];
        }
        catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException)
        {
            return [];
        }
    }

    /// <summary>Writes a pid into <c>cgroup.procs</c>, moving the whole process.</summary>
    public static void Join(string dir, int pid) =>
        Write(Path.Combine(dir, "cgroup.procs"), pid.ToString(CultureInfo.InvariantCulture));

    /// <summary>As <see cref="Join"/>, but a process that exited meanwhile (ESRCH) is no error: returns false.</summary>
    public static bool TryJoin(string dir, int pid)
    {
        try
        {
            Join(dir, pid);
            return true;
        }
        catch (LinuxException e) when (e.Errno == Interop.ESRCH)
        {
            return false;
        }
    }

    /// <summary>
    /// Sends SIGKILL to every process listed in the cgroup. The caller itself is never signalled: a
    /// sweep of a cgroup thawd was (wrongly) moved into must not kill thawd. Returns how many were signalled.
    /// </summary>
    public static int KillProcs(string dir)
    {
        int killed = 0;
        foreach (int pid in ReadProcs(dir))
        {
            if (pid == Environment.ProcessId)
                continue;
            if (Interop.Kill(pid, 9) == 0)
                killed++;
            else if (Marshal.GetLastPInvokeError() is int errno && errno != Interop.ESRCH)
                throw new LinuxException("kill", errno, $"{pid}, SIGKILL");
        }
        return killed;
    }

    /// <summary>
    /// Whether nothing is left in the cgroup. On cgroup2 that is cgroup.events' "populated 0": its
    /// cgroup.procs already hides a process whose threads are all exiting, and until they are gone
    /// the cgroup is still populated (rmdir says EBUSY, a freeze waits for them). v1's cgroup.procs
    /// lists a process until it has left. A cgroup already removed is empty.
    /// </summary>
    public static bool IsEmpty(string dir, int version)
    {
        if (version == 1)
            return ReadProcs(dir).Count == 0;
        try
        {
            return ReadKey(Path.Combine(dir, "cgroup.events"), "populated") != "1";
        }
        catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException)
        {
            return true;
        }
    }

    /// <summary>
    /// Kills everything in the cgroup and waits until it is empty (<see cref="IsEmpty"/>). v2 kills
    /// the whole subtree atomically with cgroup.kill (Linux 5.14+), which also catches processes
    /// forking meanwhile; v1 (and older v2) re-reads cgroup.procs and signals until nothing is left,
    /// which a fork bomb can outrun: freeze first when the caller can. Returns false if processes
    /// remain after the timeout.
    /// </summary>
    public static bool KillAll(string dir, TimeSpan timeout)
    {
        int version = File.Exists(Path.Combine(dir, "cgroup.events")) ? 2 : 1;
        var killFile = Path.Combine(dir, "cgroup.kill");
        bool atomic = version == 2 && File.Exists(killFile);
        if (atomic)
            Write(killFile, "1");
        var sw = Stopwatch.StartNew();
        while (true)
        {
            if (!atomic)
                KillProcs(dir);
            if (IsEmpty(dir, version))
                return true;
            if (sw.Elapsed > timeout)
                return false;
            Thread.Sleep(1);
        }
    }

    /// <summary>
    /// Removes an empty cgroup directory. ENOENT is success (already gone). EBUSY is retried until
    /// <paramref name="busyTimeout"/>: right after a kill the cgroup stays populated until the
    /// kernel has finished tearing the processes down.
    /// </summary>
    public static void RemoveDirectory(string dir, TimeSpan busyTimeout)
    {
        var sw = Stopwatch.StartNew();
        while (Interop.Rmdir(dir) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Interop.ENOENT)
                return;
            if (errno != Interop.EBUSY || sw.Elapsed > busyTimeout)
                throw new LinuxException("rmdir", errno, dir);
            Thread.Sleep(1);
        }
    }
}
