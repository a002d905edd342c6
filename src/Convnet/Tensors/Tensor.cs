namespace Convnet.Tensors;

/// <summary>
/// A batch of samples of one <see cref="Shape"/> over a float buffer allocated once for
/// <see cref="Capacity"/> samples. Changing <see cref="Batch"/> never reallocates.
/// </summary>
public sealed class Tensor
{
    private readonly float[] _data;

    /// <summary>Allocates room for <paramref name="capacity"/> samples of <paramref name="shape"/> (pinned, so kernels may take its address); the batch starts full.</summary>
    public Tensor(Shape shape, int capacity)
    {
        if (capacity <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "Capacity must be positive.");
        }
        Shape = shape;
        Capacity = capacity;
        Batch = capacity;
        _data = GC.AllocateArray<float>(shape.Size * capacity, pinned: true);
    }

    /// <summary>The shape of one sample.</summary>
    public Shape Shape { get; }
    /// <summary>The most samples the buffer holds.</summary>
    public int Capacity { get; }
    /// <summary>The samples in use, from 1 to <see cref="Capacity"/>.</summary>
    public int Batch { get; private set; }
    /// <summary>Values in one sample.</summary>
    public int SampleSize => Shape.Size;

    /// <summary>The backing array (Capacity samples); for kernels that run on worker threads.</summary>
    public float[] Data => _data;

    /// <summary>The whole batch, [Batch, H, W, C] or [Batch, F], row-major.</summary>
    public Span<float> Span => _data.AsSpan(0, Batch * Shape.Size);

    /// <summary>Samples [start, start + count).</summary>
    public Span<float> Samples(int start, int count) => _data.AsSpan(start * Shape.Size, count * Shape.Size);

    /// <summary>Sample <paramref name="index"/>'s values.</summary>
    public Span<float> Sample(int index) => _data.AsSpan(index * Shape.Size, Shape.Size);

    /// <summary>Sets how many samples are in use, up to <see cref="Capacity"/>; never reallocates.</summary>
    public void SetBatch(int batch)
    {
        if (batch <= 0 || batch > Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(batch), batch, $"Batch must be in 1..{Capacity}.");
        }
        Batch = batch;
    }
}
