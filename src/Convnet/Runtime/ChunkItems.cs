namespace Convnet.Runtime;

/// <summary>
/// The work items of a pass that treats a batch chunk by chunk, each chunk in parts of a few
/// samples (<see cref="Chunks"/>). On more than one thread the parts around where the threads meet
/// (<see cref="WorkerPool"/>'s caller claims from the front, its workers from the end) are split
/// into runs of fewer samples, so that the thread that finishes first takes a run of the last part
/// instead of waiting for the other to finish it. A pass whose runs give their samples the values
/// their parts give keeps its bits; a run lies inside one part of one chunk, so the pass still gets
/// its chunk's index.
/// </summary>
public readonly struct ChunkItems
{
    // Parts split on each side of where the threads meet: enough for how far their speeds move that
    // point, few enough to keep the claims few (measured in docs/benchmarks.md, "Issue 18,
    // thirteenth session").
    private const int SplitAround = 4;

    private readonly int _batch, _partSamples, _runSamples, _partsPerChunk, _firstSplit, _splitParts, _runsPerPart;

    private ChunkItems(int batch, int partSamples, int runSamples, int firstSplit, int splitParts)
    {
        _batch = batch;
        _partSamples = partSamples;
        _runSamples = runSamples;
        _partsPerChunk = Chunks.Size / partSamples;
        _firstSplit = firstSplit;
        _splitParts = splitParts;
        _runsPerPart = partSamples / runSamples;
        Count = Chunks.Count(batch) * _partsPerChunk + splitParts * (_runsPerPart - 1);
    }

    /// <summary>
    /// The items of a batch of <paramref name="batch"/> samples in parts of <paramref name="partSamples"/>
    /// (a divisor of <see cref="Chunks.Size"/>), those around where <paramref name="threads"/> threads
    /// meet in runs of <paramref name="runSamples"/> (a divisor of the part; the part: none split).
    /// </summary>
    public static ChunkItems Plan(int batch, int partSamples, int runSamples, int threads)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        if (partSamples < 1 || Chunks.Size % partSamples != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(partSamples), partSamples, $"partSamples must divide a chunk of {Chunks.Size}.");
        }
        if (runSamples < 1 || partSamples % runSamples != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(runSamples), runSamples, $"runSamples must divide partSamples ({partSamples}).");
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        int parts = Chunks.Count(batch) * (Chunks.Size / partSamples);
        if (threads == 1 || runSamples == partSamples)
        {
            return new(batch, partSamples, partSamples, 0, 0);
        }
        // The caller takes about a thread's share from the front while the workers take the rest from the end.
        int meet = parts / threads;
        int first = Math.Max(0, meet - SplitAround), last = Math.Min(parts, meet + SplitAround);
        return new(batch, partSamples, runSamples, first, last - first);
    }

    /// <summary>The number of items.</summary>
    public int Count { get; }

    /// <summary>Item <paramref name="index"/>: its chunk and samples [Start, Start + Count) (Count 0: past the batch's end).</summary>
    public (int Chunk, int Start, int Count) this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            int part = index, run = -1;
            int splitItems = _splitParts * _runsPerPart;
            if (index >= _firstSplit + splitItems)
            {
                part = index - splitItems + _splitParts;
            }
            else if (index >= _firstSplit)
            {
                part = _firstSplit + (index - _firstSplit) / _runsPerPart;
                run = (index - _firstSplit) % _runsPerPart;
            }
            int chunk = part / _partsPerChunk;
            var (chunkStart, chunkCount) = Chunks.Range(chunk, _batch);
            int start = chunkStart + part % _partsPerChunk * _partSamples;
            int samples = _partSamples;
            if (run >= 0)
            {
                start += run * _runSamples;
                samples = _runSamples;
            }
            return (chunk, start, Math.Clamp(chunkStart + chunkCount - start, 0, samples));
        }
    }
}
