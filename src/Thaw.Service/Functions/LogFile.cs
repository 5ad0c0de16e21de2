using System.Text;

namespace Thaw.Service.Functions;

/// <summary>
/// A function's log on disk, so <c>thaw logs</c> still has it after thawd restarts: lines appended to
/// <c>NAME.log</c> (one write(2) each, no buffer a crash would lose), and when that file passes the
/// limit it becomes <c>NAME.log.1</c> (replacing the one before) and a new one starts, so a function
/// never holds more than twice the limit on disk. A write that fails (disk full) stops the file, not
/// thawd: the in-memory log goes on.
/// </summary>
internal sealed class LogFile : IDisposable
{
    private readonly string _path;
    private readonly long _limitBytes;
    private FileStream? _file;

    public LogFile(string path, long limitBytes)
    {
        _path = path;
        _limitBytes = limitBytes;
    }

    public static string Previous(string path) => path + ".1";

    /// <summary>The lines kept on disk, oldest first (the previous file's, then the current one's).</summary>
    public static IEnumerable<string> ReadLines(string path)
    {
        foreach (var file in new[] { Previous(path), path })
        {
            string[] lines;
            try { lines = File.ReadAllLines(file); }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { continue; }
            foreach (var line in lines)
                yield return line;
        }
    }

    /// <summary>Appends one line; the caller serializes calls.</summary>
    public void Append(string line)
    {
        try
        {
            _file ??= Open();
            if (_file.Length >= _limitBytes)
            {
                _file.Dispose();
                File.Move(_path, Previous(_path), overwrite: true);
                _file = Open();
            }
            int count = Encoding.UTF8.GetByteCount(line) + 1;
            var bytes = new byte[count];
            Encoding.UTF8.GetBytes(line, bytes);
            bytes[^1] = (byte)'\n';
            _file.Write(bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _file?.Dispose();
            _file = null;
        }
    }

    /// <summary>Closes the file and deletes both files (the function was removed).</summary>
    public void Delete()
    {
        Dispose();
        DeleteFiles(_path);
    }

    public static void DeleteFiles(string path)
    {
        if (!Directory.Exists(Path.GetDirectoryName(path)))
            return;
        File.Delete(path);
        File.Delete(Previous(path));
    }

    public void Dispose()
    {
        _file?.Dispose();
        _file = null;
    }

    private FileStream Open()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        return new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0);
    }
}
