using Convnet.Data;
using Convnet.Inference;
using Convnet.Layers;
using Convnet.Runtime;
using Convnet.Tensors;

namespace Convnet.Models;

/// <summary>
/// <see cref="Sequential.Predict(Dataset, int)"/>'s fast path: the model's layers compiled once per
/// weights version into stages that run a group of up to <see cref="Chunks.Size"/> images at a time
/// through the whole network, one group per work item, in the plan's own buffers. Each layer adds
/// its part (<see cref="Layer.CompileInference"/>, the stages in <c>Inference/</c>): a convolution
/// stage takes in the ReLU, BatchNormalization (inference form: a per-channel affine) and max pool
/// after it, and runs Winograd for 3×3 stride-1 "valid" kernels and, over the input's phases
/// (space-to-depth), for 5×5 and 6×6 stride-2 ones; weights are transformed and packed
/// into GEMM panels when the plan is built; Flatten is folded into the next Dense's rows; Dropout
/// is the identity. One image on a model of several threads is split instead: each stage's parts
/// (<see cref="InferenceStage.Parts"/>, two bands of rows, or two halves of a small map's filters) are claimed by the threads, all of a
/// stage's parts done before the next stage starts. An image's outputs depend on nothing but the image
/// (no product mixes images' sums), so they are the same bits at any batch size and thread count,
/// but not the bits of the layer-by-layer path: they agree to about 1e-6.
/// </summary>
internal sealed class InferencePlan
{
    private readonly InferenceStage[] _stages;
    private readonly int _inputSize;
    private readonly int _outputSize;
    private readonly int _activation;
    private readonly long _workFlops;
    private readonly Action<int> _runGroup;
    private InferenceWorkspaceSizes _sizes;
    // Each stage's input and output: which of the two activation buffers.
    private readonly (int From, int To)[] _buffers;
    // One image split over the threads: each stage's parts (0: run whole by one thread).
    private readonly int[] _parts;
    // Per stage, the parts claimed and the parts done, each on its own cache line.
    private readonly int[] _counters;
    private const int CounterSpacing = 16;
    private readonly Action<int> _runSplit;
    private InferenceWorkspace? _splitWorkspace;
    // Each part's scratch (transforms, products, columns) of a split image: parts that wrote into one
    // workspace side by side made each thread's half as slow as the whole, the lines at the borders
    // of their regions moving between the cores (docs/benchmarks.md, Zen 5 section).
    private readonly InferenceWorkspace?[] _partWorkspaces = new InferenceWorkspace?[InferenceStage.MaxParts];
    private int _splitting;
    private Dataset? _data;
    private unsafe float* _source;
    private float[] _result = [];
    private int _count;

    private InferencePlan(InferenceStage[] stages, int inputSize, int outputSize, int activation, InferenceWorkspaceSizes sizes, long workFlops)
    {
        _stages = stages;
        _inputSize = inputSize;
        _outputSize = outputSize;
        _activation = activation;
        _sizes = sizes;
        _workFlops = workFlops;
        _runGroup = RunGroup;
        _runSplit = RunSplit;
        _buffers = new (int, int)[stages.Length];
        int current = 0;
        for (int i = 0; i < stages.Length; i++)
        {
            int next = stages[i].InPlace ? current : 1 - current;
            _buffers[i] = (current, next);
            current = next;
        }
        _parts = [.. stages.Select(stage => stage.Parts)];
        _counters = new int[stages.Length * 2 * CounterSpacing];
    }

    /// <summary>Bytes of one work item's buffers: two groups of activations and the largest workspaces.</summary>
    public long WorkspaceBytes => (2L * Chunks.Size * _activation + _sizes.Columns + _sizes.Scratch + _sizes.Transformed + _sizes.Products + _sizes.Phases) * sizeof(float);

    /// <summary>The stages' names, e.g. "conv2d (Winograd) + re_lu + max_pooling2d", for tests and benchmarks.</summary>
    public IReadOnlyList<string> Describe() => [.. _stages.Select(s => s.Description)];

    /// <summary>The plan for <paramref name="layers"/> on samples of <paramref name="input"/>, or null when a layer has no inference stage (the model then predicts layer by layer).</summary>
    public static InferencePlan? TryCreate(IReadOnlyList<Layer> layers, Shape input)
    {
        ArgumentNullException.ThrowIfNull(layers);
        var compiler = new InferenceCompiler();
        foreach (var layer in layers)
        {
            if (!layer.CompileInference(compiler))
            {
                return null;
            }
        }
        var stages = compiler.Finish();
        var sizes = new InferenceWorkspaceSizes();
        int activation = input.Size;
        int output = input.Size;
        long flops = 0;
        foreach (var stage in stages)
        {
            stage.Reserve(ref sizes);
            output = stage.Output.Size;
            activation = Math.Max(activation, output);
            flops += stage.Flops;
        }
        return new InferencePlan(stages, input.Size, output, activation, sizes, flops);
    }

    /// <summary>Outputs of the <paramref name="count"/> samples at <paramref name="source"/> (already scaled to floats), one group per work item on <paramref name="pool"/>.</summary>
    // x: [count, ...input] → result: [count, outputs]
    public unsafe float[] Predict(float* source, int count, WorkerPool pool)
    {
        var result = new float[count * _outputSize];
        _source = source;
        _data = null;
        Run(result, count, pool);
        _source = null;
        return result;
    }

    /// <summary>Outputs of every sample of <paramref name="data"/>, scaled from its bytes group by group.</summary>
    public unsafe float[] Predict(Dataset data, WorkerPool pool)
    {
        var result = new float[data.Count * _outputSize];
        _source = null;
        _data = data;
        Run(result, data.Count, pool);
        _data = null;
        return result;
    }

    private void Run(float[] result, int count, WorkerPool pool)
    {
        _result = result;
        _count = count;
        int groups = Chunks.Count(count);
        if (count == 1 && pool.ThreadCount > 1 && _workFlops >= SplitFlops && Interlocked.CompareExchange(ref _splitting, 1, 0) == 0)
        {
            // One image, several threads: its stages' parts shared out (one call at a time; another caller runs alone).
            try
            {
                RunSplit(pool);
            }
            finally
            {
                Volatile.Write(ref _splitting, 0);
            }
        }
        // One image of a small network is a few microseconds of work: handing it to a worker costs more.
        else if (groups == 1 || (long)count * _workFlops < SerialFlops)
        {
            for (int g = 0; g < groups; g++)
            {
                RunGroup(g);
            }
        }
        else
        {
            pool.For(groups, _runGroup);
        }
        _result = [];
    }

    /// <summary>Below this much work a call runs on the calling thread.</summary>
    private const long SerialFlops = 20_000_000;

    /// <summary>From this much work on, one image is split over the threads.</summary>
    private const long SplitFlops = 2_000_000;

    private void RunSplit(WorkerPool pool)
    {
        var ws = RentWorkspace();
        try
        {
            int last = Load(0, 1, ws);
            Array.Clear(_counters);
            _splitWorkspace = ws;
            _partWorkspaces[0] = ws;
            for (int p = 1; p < _partWorkspaces.Length; p++)
            {
                _partWorkspaces[p] = RentWorkspace();
            }
            pool.For(pool.ThreadCount, _runSplit);
            ws.Activations(last, _outputSize).CopyTo(_result.AsSpan(0, _outputSize));
        }
        finally
        {
            _splitWorkspace = null;
            for (int p = 1; p < _partWorkspaces.Length; p++)
            {
                if (_partWorkspaces[p] is { } part)
                {
                    ReturnWorkspace(part);
                }
                _partWorkspaces[p] = null;
            }
            _partWorkspaces[0] = null;
            ReturnWorkspace(ws);
        }
    }

    // One thread's share of a split image: every step's unclaimed parts, then a wait for the step's
    // other parts. Parts are claimed, never assigned, so a thread that starts late (or never) only
    // leaves more to the others, and which thread runs a part does not change its bits. Each thread
    // tries part `thread` first: the band it wrote in one stage is the one it reads in the next.
    private void RunSplit(int thread)
    {
        var ws = _splitWorkspace!;
        for (int s = 0; s < _stages.Length; s++)
        {
            var stage = _stages[s];
            var (from, to) = _buffers[s];
            var x = ws.Activations(from, s == 0 ? _inputSize : _stages[s - 1].Output.Size);
            var y = ws.Activations(to, stage.Output.Size);
            // A flag per part, then the parts done.
            var claimed = _counters.AsSpan(2 * s * CounterSpacing, CounterSpacing);
            ref int done = ref _counters[(2 * s + 1) * CounterSpacing];
            int parts = Math.Max(_parts[s], 1);
            for (int i = 0; i < parts; i++)
            {
                int part = (thread + i) % parts;
                if (Interlocked.Exchange(ref claimed[part], 1) != 0)
                {
                    continue;
                }
                try
                {
                    if (_parts[s] == 0)
                    {
                        stage.Run(x, 1, y, ws);
                    }
                    else
                    {
                        stage.RunPart(part, x, y, _partWorkspaces[part]!);
                    }
                }
                finally
                {
                    Interlocked.Increment(ref done);
                }
            }
            var spin = new SpinWait();
            while (Volatile.Read(ref done) < parts)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }
        }
    }

    private unsafe void RunGroup(int group)
    {
        var ws = RentWorkspace();
        try
        {
            RunGroup(group, ws);
        }
        finally
        {
            ReturnWorkspace(ws);
        }
    }

    // The plan's own workspaces, one per work item running at once (the model's threads, or the
    // caller): a server's many request threads share them rather than each keeping its own.
    private readonly InferenceWorkspace[] _idle = new InferenceWorkspace[MaxIdleWorkspaces];
    private int _idleCount;
    private const int MaxIdleWorkspaces = 64;

    private InferenceWorkspace RentWorkspace()
    {
        InferenceWorkspace? ws = null;
        lock (_idle)
        {
            if (_idleCount > 0)
            {
                ws = _idle[--_idleCount];
                _idle[_idleCount] = null!;
            }
        }
        ws ??= new InferenceWorkspace();
        ws.Ensure(_sizes, _activation * Chunks.Size);
        return ws;
    }

    private void ReturnWorkspace(InferenceWorkspace ws)
    {
        lock (_idle)
        {
            if (_idleCount < _idle.Length)
            {
                _idle[_idleCount++] = ws;
            }
        }
    }

    private void RunGroup(int group, InferenceWorkspace ws)
    {
        var (start, count) = Chunks.Range(group, _count);
        int last = Load(start, count, ws);
        int size = _inputSize;
        for (int i = 0; i < _stages.Length; i++)
        {
            var (stage, (from, to)) = (_stages[i], _buffers[i]);
            stage.Run(ws.Activations(from, count * size), count, ws.Activations(to, count * stage.Output.Size), ws);
            size = stage.Output.Size;
        }
        ws.Activations(last, count * size).CopyTo(_result.AsSpan(start * _outputSize, count * _outputSize));
    }

    // Samples [start, start + count) into activation buffer 0; returns the buffer the last stage writes.
    private unsafe int Load(int start, int count, InferenceWorkspace ws)
    {
        var x = ws.Activations(0, count * _activation);
        if (_data is { } data)
        {
            Span<int> indices = stackalloc int[Chunks.Size];
            for (int i = 0; i < count; i++)
            {
                indices[i] = start + i;
            }
            data.CopyBatch(indices[..count], x, default);
        }
        else
        {
            new ReadOnlySpan<float>(_source + (long)start * _inputSize, count * _inputSize).CopyTo(x);
        }
        return _stages.Length == 0 ? 0 : _buffers[^1].To;
    }
}
