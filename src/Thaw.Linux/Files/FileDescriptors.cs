using System.Runtime.InteropServices;

namespace Thaw.Linux.Files;

/// <summary>
/// Plain descriptors as <see cref="SafeFd"/>s, all close-on-exec: what thawd hands to a zygote
/// (a root dir, cgroup.procs files, /dev/null, a start pipe) and keeps to itself.
/// </summary>
public static class FileDescriptors
{
    private const int EINTR = 4;

    /// <summary>A directory, for fchdir (a sandbox's root).</summary>
    public static SafeFd OpenDirectory(string path) =>
        Open(path, Interop.O_RDONLY | Interop.O_DIRECTORY);

    public static SafeFd OpenRead(string path) => Open(path, Interop.O_RDONLY);

    public static SafeFd OpenWrite(string path) => Open(path, Interop.O_WRONLY);

    /// <summary>A pipe: (read end, write end).</summary>
    public static unsafe (SafeFd Read, SafeFd Write) Pipe()
    {
        int* fds = stackalloc int[2];
        LinuxException.ThrowIfFailed(Interop.Pipe2(fds, Interop.O_CLOEXEC), "pipe2");
        return (new SafeFd(fds[0]), new SafeFd(fds[1]));
    }

    /// <summary>Reads until end of file (all writers closed), at most <paramref name="limit"/> bytes, retrying on EINTR.</summary>
    public static unsafe byte[] ReadToEnd(SafeFd fd, int limit = 4096)
    {
        var buffer = new byte[limit];
        int got = 0;
        bool added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            fixed (byte* p = buffer)
            {
                while (got < limit)
                {
                    nint n = Interop.Read(fd.Value, p + got, limit - got);
                    if (n < 0)
                    {
                        int errno = Marshal.GetLastPInvokeError();
                        if (errno == EINTR)
                            continue;
                        throw new LinuxException("read", errno);
                    }
                    if (n == 0)
                        break;
                    got += (int)n;
                }
            }
        }
        finally
        {
            if (added) fd.DangerousRelease();
        }
        return buffer[..got];
    }

    /// <summary>Writes all of <paramref name="data"/>, retrying on EINTR.</summary>
    public static unsafe void Write(SafeFd fd, ReadOnlySpan<byte> data)
    {
        bool added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            fixed (byte* p = data)
            {
                for (int done = 0; done < data.Length;)
                {
                    nint n = Interop.Write(fd.Value, p + done, data.Length - done);
                    if (n < 0)
                    {
                        int errno = Marshal.GetLastPInvokeError();
                        if (errno == EINTR)
                            continue;
                        throw new LinuxException("write", errno);
                    }
                    done += (int)n;
                }
            }
        }
        finally
        {
            if (added) fd.DangerousRelease();
        }
    }

    private static SafeFd Open(string path, int flags) =>
        new(LinuxException.ThrowIfFailed(Interop.Open(path, flags | Interop.O_CLOEXEC, 0), "open", path));
}
