using System.Runtime.InteropServices;

namespace Thaw.Linux;

/// <summary>A failed system call, named with its argument and the errno the kernel returned.</summary>
public class LinuxException : Exception
{
    public LinuxException(string call, int errno, string? detail = null)
        : base(Format(call, errno, detail))
    {
        Call = call;
        Errno = errno;
    }

    public LinuxException() : this("unknown", 0) { }

    public LinuxException(string message) : base(message) { Call = "unknown"; }

    public LinuxException(string message, Exception inner) : base(message, inner) { Call = "unknown"; }

    public string Call { get; } = "unknown";

    public int Errno { get; }

    public static string ErrnoName(int errno) => errno switch
    {
        1 => "EPERM", 2 => "ENOENT", 3 => "ESRCH", 4 => "EINTR", 5 => "EIO", 9 => "EBADF",
        11 => "EAGAIN", 12 => "ENOMEM", 13 => "EACCES", 16 => "EBUSY", 17 => "EEXIST",
        19 => "ENODEV", 20 => "ENOTDIR", 21 => "EISDIR", 22 => "EINVAL", 24 => "EMFILE",
        28 => "ENOSPC", 30 => "EROFS", 34 => "ERANGE", 36 => "ENAMETOOLONG", 38 => "ENOSYS",
        39 => "ENOTEMPTY", 93 => "EPROTONOSUPPORT", 95 => "EOPNOTSUPP", 98 => "EADDRINUSE",
        99 => "EADDRNOTAVAIL", 111 => "ECONNREFUSED", 110 => "ETIMEDOUT",
        _ => "errno " + errno,
    };

    private static string Format(string call, int errno, string? detail)
    {
        var text = Marshal.GetPInvokeErrorMessage(errno);
        return detail is null
            ? $"{call} failed: {ErrnoName(errno)} ({text})"
            : $"{call}({detail}) failed: {ErrnoName(errno)} ({text})";
    }

    /// <summary>Throws for the last P/Invoke error when <paramref name="result"/> is negative.</summary>
    internal static int ThrowIfFailed(int result, string call, string? detail = null)
    {
        if (result < 0)
            throw new LinuxException(call, Marshal.GetLastPInvokeError(), detail);
        return result;
    }

    internal static long ThrowIfFailed(long result, string call, string? detail = null)
    {
        if (result < 0)
            throw new LinuxException(call, Marshal.GetLastPInvokeError(), detail);
        return result;
    }
}
