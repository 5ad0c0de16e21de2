namespace Thaw.Linux.Namespaces;

/// <summary>
/// A directory of pinned namespaces: each a bind mount of an nsfs file, which keeps the namespace
/// alive with no process in it. The directory is a private mount of itself (as `ip netns` does with
/// /run/netns, but private): the pins then never propagate to peer mount namespaces, where a copy
/// would keep a namespace alive after Thaw unpinned it.
/// </summary>
public static class PinDirectory
{
    public static void Prepare(string dir)
    {
        Directory.CreateDirectory(dir);
        Mounts.Mounts.MakePrivateMountPoint(dir);
    }

    /// <summary>Unpins a namespace: the kernel frees it once no fd, mount or process holds it.</summary>
    public static void Unpin(string pinPath)
    {
        Mounts.Mounts.Unmount(pinPath);
        File.Delete(pinPath);
    }

    /// <summary>Unpins whatever is left inside, unmounts the directory and removes it.</summary>
    public static void Remove(string dir)
    {
        if (!Directory.Exists(dir))
            return;
        // UnmountTree throws while anything is still mounted below, so the delete only ever sees
        // the empty placeholder files.
        Mounts.Mounts.UnmountTree(dir);
        Directory.Delete(dir, recursive: true);
    }
}
