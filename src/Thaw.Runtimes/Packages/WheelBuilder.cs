using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace Thaw.Runtimes.Packages;

/// <summary>
/// Builds pure-Python wheels (METADATA, WHEEL, RECORD with hashes, the modules): no index is
/// reachable on these machines, so the tests' wheelhouses and `thaw bench python`'s locally built
/// package set are made with it. Returns the wheel's path.
/// </summary>
public static class WheelBuilder
{
    public static string Build(string wheelhouse, string name, string version, string[] requires, params (string Path, string Text)[] files)
    {
        string dist = name.Replace('-', '_');
        string info = $"{dist}-{version}.dist-info";
        string path = Path.Combine(wheelhouse, $"{dist}-{version}-py3-none-any.whl");
        var entries = new List<(string Name, byte[] Data)>();
        foreach (var (file, text) in files)
            entries.Add((file, Encoding.UTF8.GetBytes(text)));
        var metadata = new StringBuilder($"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
        foreach (var r in requires)
            metadata.Append("Requires-Dist: ").Append(r).Append('\n');
        entries.Add(($"{info}/METADATA", Encoding.UTF8.GetBytes(metadata.ToString())));
        entries.Add(($"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: thaw-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"u8.ToArray()));
        var record = new StringBuilder();
        foreach (var (entry, data) in entries)
            record.Append(entry).Append(",sha256=").Append(Convert.ToBase64String(SHA256.HashData(data)).TrimEnd('=').Replace('+', '-').Replace('/', '_'))
                .Append(',').Append(data.Length).Append('\n');
        record.Append(info).Append("/RECORD,,\n");
        entries.Add(($"{info}/RECORD", Encoding.UTF8.GetBytes(record.ToString())));
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (entry, data) in entries)
        {
            using var stream = zip.CreateEntry(entry).Open();
            stream.Write(data);
        }
        return path;
    }
}
