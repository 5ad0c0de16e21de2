namespace Thaw.Service.Deploy;

/// <summary>
/// A read-only view of a decompressing stream that throws once more than a limit has come out of
/// it. It bounds what the tar reader inflates while it skips entry data or reads its own metadata,
/// which no size the archive declares can be trusted to do.
/// </summary>
internal sealed class LimitedReadStream(Stream inner, long limit, Func<ArchiveException> tooLarge) : Stream
{
    private long _read;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => _read;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = inner.Read(buffer);
        _read += n;
        if (_read > limit)
            throw tooLarge();
        return n;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
