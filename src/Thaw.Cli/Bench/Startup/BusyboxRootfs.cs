namespace Thaw.Cli.Bench.Startup;

/// <summary>
/// The tiny rootfs every system under test starts: Debian's static busybox as /bin/busybox with
/// /bin/true and /bin/sh linked to it. Same bytes for Thaw (as its roots' base), runc and Docker.
/// </summary>
internal static class BusyboxRootfs
{
    public static string Create(string dir, Action<string> say)
    {
        string busybox = PeerCommands.Which("busybox") is { } b && IsStatic(b) ? b : Path.Combine("/bin", "busybox");
        if (!File.Exists(busybox) || !IsStatic(busybox))
        {
            PeerCommands.Require("busybox", "busybox-static", say);
            busybox = PeerCommands.Which("busybox")!;
        }
        if (Directory.Exists(dir))
            Directory.Delete(dir, recursive: true);
        string bin = Path.Combine(dir, "bin");
        Directory.CreateDirectory(bin);
        File.Copy(busybox, Path.Combine(bin, "busybox"));
        foreach (var applet in new[] { "true", "sh" })
            File.CreateSymbolicLink(Path.Combine(bin, applet), "busybox");
        foreach (var empty in new[] { "proc", "dev", "sys", "tmp", "etc" })
            Directory.CreateDirectory(Path.Combine(dir, empty));
        return dir;
    }

    /// <summary>A static binary has no PT_INTERP: good enough to check for the interpreter's path.</summary>
    private static bool IsStatic(string path)
    {
        var bytes = File.ReadAllBytes(path);
        return !System.Text.Encoding.ASCII.GetString(bytes, 0, Math.Min(bytes.Length, 4096)).Contains("ld-linux", StringComparison.Ordinal);
    }
}
