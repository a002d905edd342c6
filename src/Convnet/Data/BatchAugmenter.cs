using Convnet.Kernels;
using Convnet.Layers;
using Convnet.Runtime;
using Convnet.Tensors;

namespace Convnet.Data;

/// <summary>
/// Warps a loaded training batch in place, sample by sample, in parallel over fixed chunks of
/// samples (<see cref="Chunks"/>). Sample i's transform comes from
/// <see cref="Augmentation.Stream"/>(seed, epoch, indices[i]), so results do not depend on the
/// thread count or the batch a sample falls in. Once its buffers fit the batch it allocates nothing.
/// </summary>
internal sealed class BatchAugmenter
{
    private readonly Action<int> _chunkBody;
    private float[][] _scratch = [];
    private int[] _indices = [];
    private Augmentation _options = Augmentation.None;
    private Tensor? _batch;
    private int _count;
    private ulong _seed;
    private int _epoch;

    public BatchAugmenter() => _chunkBody = WarpChunk;

    /// <summary>Warps the first indices.Length samples of <paramref name="batch"/>; indices are their dataset indices.</summary>
    public void Apply(WorkerPool pool, Augmentation options, Tensor batch, ReadOnlySpan<int> indices, ulong seed, int epoch)
    {
        if (options.IsIdentity)
        {
            return;
        }
        int count = indices.Length;
        int chunks = Chunks.Count(count);
        int sampleSize = batch.SampleSize;
        if (_indices.Length < count)
        {
            _indices = new int[count];
        }
        if (_scratch.Length < chunks || (_scratch.Length > 0 && _scratch[0].Length != sampleSize))
        {
            _scratch = new float[chunks][];
            for (int c = 0; c < chunks; c++)
            {
                _scratch[c] = new float[sampleSize];
            }
        }
        indices.CopyTo(_indices);
        (_options, _batch, _count, _seed, _epoch) = (options, batch, count, seed, epoch);
        try
        {
            pool.For(chunks, _chunkBody);
        }
        finally
        {
            _batch = null;
        }
    }

    private void WarpChunk(int chunk)
    {
        var batch = _batch!;
        var shape = batch.Shape;
        var scratch = _scratch[chunk].AsSpan();
        var (start, length) = Chunks.Range(chunk, _count);
        for (int i = start; i < start + length; i++)
        {
            var rng = Augmentation.Stream(_seed, _epoch, _indices[i]);
            var map = _options.Draw(ref rng).ToMap(shape.Height, shape.Width);
            var sample = batch.Sample(i);
            sample.CopyTo(scratch);
            AffineWarp.Bilinear(scratch, map, shape.Height, shape.Width, shape.Channels, sample);
        }
    }
}
