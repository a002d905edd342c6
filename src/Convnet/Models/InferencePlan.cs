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
/// after it, and runs Winograd for 3×3 stride-1 "valid" kernels; weights are transformed and packed
/// into GEMM panels when the plan is built; Flatten is folded into the next Dense's rows; Dropout
/// is the identity. An image's outputs depend on nothing but the image
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
    }

    /// <summary>Bytes of one work item's buffers: two groups of activations and the largest workspaces.</summary>
    public long WorkspaceBytes => (2L * Chunks.Size * _activation + _sizes.Columns + _sizes.Scratch + _sizes.Transformed + _sizes.Products) * sizeof(float);

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
        // One image of a small network is a few microseconds of work: handing it to a worker costs more.
        if (groups == 1 || (long)count * _workFlops < SerialFlops)
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

    private unsafe void RunGroup(int group, InferenceWorkspace ws)
    {
        var (start, count) = Chunks.Range(group, _count);
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
        int current = 0;
        int size = _inputSize;
        foreach (var stage in _stages)
        {
            int next = stage.InPlace ? current : 1 - current;
            stage.Run(ws.Activations(current, count * size), count, ws.Activations(next, count * stage.Output.Size), ws);
            current = next;
            size = stage.Output.Size;
        }
        ws.Activations(current, count * size).CopyTo(_result.AsSpan(start * _outputSize, count * _outputSize));
    }
}
