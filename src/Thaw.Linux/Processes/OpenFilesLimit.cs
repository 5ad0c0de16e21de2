using System.Runtime.InteropServices;

namespace Thaw.Linux.Processes;

/// <summary>This process's RLIMIT_NOFILE: how many file descriptors it may hold (its children inherit it).</summary>
public static class OpenFilesLimit
{
    /// <summary>The soft limit (what open() is held to) and the hard one (how far the soft may rise without privilege).</summary>
    public static unsafe (long Soft, long Hard) Get()
    {
        Interop.RLimit limit;
        if (Interop.GetRLimit(Interop.RLIMIT_NOFILE, &limit) != 0)
            throw new LinuxException("getrlimit(RLIMIT_NOFILE)", Marshal.GetLastPInvokeError());
        return ((long)limit.Current, (long)limit.Maximum);
    }

    /// <summary>
    /// Raises both limits to at least <paramref name="wanted"/> (never lowers them). Raising the hard
    /// limit needs CAP_SYS_RESOURCE, and the kernel caps it at fs.nr_open. Returns the soft limit now.
    /// </summary>
    public static unsafe long Raise(long wanted)
    {
        var (soft, hard) = Get();
        if (soft >= wanted)
            return soft;
        var limit = new Interop.RLimit { Current = (ulong)wanted, Maximum = (ulong)Math.Max(hard, wanted) };
        if (Interop.SetRLimit(Interop.RLIMIT_NOFILE, &limit) != 0)
            throw new LinuxException($"setrlimit(RLIMIT_NOFILE, {wanted})", Marshal.GetLastPInvokeError());
        return wanted;
    }
}
