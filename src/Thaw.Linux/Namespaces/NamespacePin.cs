namespace Thaw.Linux.Namespaces;

/// <summary>Operations on pinned (bind-mounted) network namespaces that need no thread switch.</summary>
public static class NamespacePin
{
    /// <summary>Unpins a namespace: the kernel frees it once no fd, mount or process holds it.</summary>
    public static void Unpin(string bindPath)
    {
        if (Interop.Umount2(bindPath, Interop.MNT_DETACH | Interop.UMOUNT_NOFOLLOW) < 0)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno != 22 && errno != 2) // EINVAL: not a mount point (already unpinned)
                throw new LinuxException("umount2", errno, bindPath);
        }
        File.Delete(bindPath);
    }
}
