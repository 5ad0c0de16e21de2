using Thaw.Linux.Mounts;

namespace Thaw.Resources.Roots;

/// <summary>Removes the roots a crashed (or undisposed) instance left under its roots dir.</summary>
public static class RootRecovery
{
    /// <summary>
    /// Unmounts everything under <see cref="ThawNaming.RootsDir"/>, deepest first, and deletes the
    /// dir. Returns how many mounts it removed.
    /// </summary>
    public static int Sweep(ThawNaming naming)
    {
        var dir = naming.RootsDir;
        // UnmountTree throws rather than return while anything is still mounted below: the
        // recursive delete after it must never descend into a bind of a host directory.
        int unmounted = Mounts.UnmountTree(dir);
        if (Directory.Exists(dir))
            Directory.Delete(dir, recursive: true);
        return unmounted;
    }
}
