using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace Thaw.Tests.Service.Deploy;

/// <summary>Deploy archives built in memory, entry by entry, including ones no honest tool makes.</summary>
internal static class TestArchives
{
    public const UnixFileMode Regular = (UnixFileMode)0b110_100_100;        // 0644
    public const UnixFileMode Executable = (UnixFileMode)0b111_101_101;     // 0755

    // st_mode as zip's external attributes carry it (high 16 bits).
    public const int ZipRegular = 0x8000 | 0b110_100_100;
    public const int ZipExecutable = 0x8000 | 0b111_101_101;
    public const int ZipDirectory = 0x4000 | 0b111_101_101;
    public const int ZipSymlink = 0xA000 | 0b111_111_111;

    public static byte[] TarGz(params TarEntry[] entries) => Gzip(stream =>
    {
        using var tar = new TarWriter(stream, TarEntryFormat.Pax, leaveOpen: true);
        foreach (var entry in entries)
            tar.WriteEntry(entry);
    });

    public static byte[] Gzip(Action<Stream> write)
    {
        var bytes = new MemoryStream();
        using (var gzip = new GZipStream(bytes, CompressionLevel.Fastest, leaveOpen: true))
            write(gzip);
        return bytes.ToArray();
    }

    public static PaxTarEntry TarFile(string name, string content, UnixFileMode mode = Regular) =>
        new(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)), Mode = mode };

    public static PaxTarEntry TarDir(string name, UnixFileMode mode = Executable) => new(TarEntryType.Directory, name) { Mode = mode };

    public static PaxTarEntry TarLink(string name, string target) => new(TarEntryType.SymbolicLink, name) { LinkName = target };

    public static byte[] Zip(params (string Name, string? Content, int Mode)[] entries)
    {
        var bytes = new MemoryStream();
        using (var zip = new ZipArchive(bytes, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, content, mode) in entries)
            {
                var entry = zip.CreateEntry(name, CompressionLevel.Fastest);
                entry.ExternalAttributes = mode << 16;
                if (content is null)
                    continue;
                using var data = entry.Open();
                data.Write(Encoding.UTF8.GetBytes(content));
            }
        }
        return bytes.ToArray();
    }

    public static (string, string?, int) ZipFile(string name, string content, int mode = ZipRegular) => (name, content, mode);

    public static (string, string?, int) ZipDir(string name) => (name, null, ZipDirectory);

    public static (string, string?, int) ZipLink(string name, string target) => (name, target, ZipSymlink);

    /// <summary>The same entries as a .tar.gz or a .zip, for rules both formats must keep.</summary>
    public static byte[] Build(string format, params TestEntry[] entries) => format switch
    {
        "tar.gz" => TarGz([.. entries.Select(e => e.Kind switch
        {
            'f' => TarFile(e.Name, e.Data, e.Executable ? Executable : Regular),
            'd' => TarDir(e.Name),
            _ => TarLink(e.Name, e.Data),
        })]),
        "zip" => Zip([.. entries.Select(e => e.Kind switch
        {
            'f' => ZipFile(e.Name, e.Data, e.Executable ? ZipExecutable : ZipRegular),
            'd' => ZipDir(e.Name.EndsWith('/') ? e.Name : e.Name + "/"),
            _ => ZipLink(e.Name, e.Data),
        })]),
        _ => throw new ArgumentException(format),
    };
}

/// <summary>An entry either format can hold: 'f'ile, 'd'irectory or 'l'ink (Data is the content or the target).</summary>
internal sealed record TestEntry(char Kind, string Name, string Data = "", bool Executable = false)
{
    public static TestEntry F(string name, string content, bool executable = false) => new('f', name, content, executable);

    public static TestEntry D(string name) => new('d', name);

    public static TestEntry L(string name, string target) => new('l', name, target);
}

/// <summary>
/// A body as Kestrel hands it over: no Length, no seeking, and (when asked) no synchronous reads.
/// Counts what was read, to show a refusal came before the whole body did.
/// </summary>
internal sealed class RequestBodyStream(Stream inner, bool asyncOnly = false) : Stream
{
    public long BytesRead { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        if (asyncOnly)
            throw new InvalidOperationException("Synchronous operations are disallowed.");
        int n = inner.Read(buffer, offset, count);
        BytesRead += n;
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await inner.ReadAsync(buffer, cancellationToken);
        BytesRead += n;
        return n;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>Zeros, as many as asked, made as they are read (a 300 MiB bomb need not sit in memory).</summary>
internal sealed class ZeroStream(long length) : Stream
{
    private long _position;

    public override bool CanRead => true;

    public override bool CanSeek => true;       // TarWriter takes the entry's size from Length

    public override bool CanWrite => false;

    public override long Length => length;

    public override long Position
    {
        get => _position;
        set => _position = value;
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        int n = (int)Math.Clamp(length - _position, 0, count);
        Array.Clear(buffer, offset, n);
        _position += n;
        return n;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => _position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => _position + offset,
        _ => length + offset,
    };

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
