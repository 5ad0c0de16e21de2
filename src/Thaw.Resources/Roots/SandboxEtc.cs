using System.Text;

namespace Thaw.Resources.Roots;

/// <summary>
/// The /etc every sandbox sees: built once per pool from a short list of the base root's /etc
/// entries, plus a passwd and group of its own, and bound read-only into every root. The host's
/// whole /etc holds what functions must not read (pip.conf and its index tokens, ssh and TLS private
/// keys, the rest of the host's configuration); a program needs only name resolution, the dynamic
/// loader's cache, the time zone and the CA certificates.
/// </summary>
public static class SandboxEtc
{
    /// <summary>
    /// What <see cref="RootPoolOptions.Etc"/> copies by default, relative to the base root's /etc (a
    /// missing one is skipped). Symlinks are kept as they are: theirs point into /usr, which the
    /// sandbox has.
    /// </summary>
    public static readonly IReadOnlyList<string> Default =
    [
        "hosts", "host.conf", "nsswitch.conf", "gai.conf", "protocols", "services", "networks", // names
        "ld.so.cache", "alternatives", // the dynamic loader's cache; Debian's alternatives (libblas for numpy, ...)
        "localtime", "timezone", // the time zone
        "ssl/certs", "ssl/openssl.cnf", "ca-certificates.conf", // CA certificates, not ssl/private
        "mime.types", "os-release", "debian_version", "lsb-release", // what libraries read to describe the system
    ];

    /// <summary>The sandbox user, as <c>id</c>, Python's <c>pwd</c> and getpwuid(3) see it (sandboxes run as 65534).</summary>
    internal const string Passwd = "root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/tmp:/usr/sbin/nologin\n";

    internal const string Group = "root:x:0:\nnogroup:x:65534:\n";

    /// <summary>(Re)builds <paramref name="target"/>: the listed entries of <paramref name="baseRoot"/>'s /etc, a passwd and a group.</summary>
    public static void Build(string baseRoot, IEnumerable<string> entries, string target)
    {
        if (Directory.Exists(target))
            Directory.Delete(target, recursive: true);
        Directory.CreateDirectory(target);
        string etc = Path.Combine(baseRoot, "etc");
        foreach (var entry in entries)
            Copy(Path.Combine(etc, entry), Path.Combine(target, entry));
        File.WriteAllText(Path.Combine(target, "passwd"), Passwd, Encoding.ASCII);
        File.WriteAllText(Path.Combine(target, "group"), Group, Encoding.ASCII);
    }

    private static void Copy(string source, string target)
    {
        var info = new FileInfo(source);
        if (info.LinkTarget is { } link)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.CreateSymbolicLink(target, link);
        }
        else if (Directory.Exists(source))
        {
            Directory.CreateDirectory(target);
            foreach (var child in Directory.EnumerateFileSystemEntries(source))
                Copy(child, Path.Combine(target, Path.GetFileName(child)));
        }
        else if (info.Exists)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(source, target);
        }
    }
}
