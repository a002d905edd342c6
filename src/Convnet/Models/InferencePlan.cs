using Convnet.Data;
using Convnet.Kernels;
using Convnet.Layers;
using Convnet.Runtime;
using Convnet.Tensors;

namespace Convnet.Models;

/// <summary>
/// <see cref="Sequential.Predict(Dataset, int)"/>'s fast path: the model's layers compiled once per
/// weights version into stages that run a group of up to <see cref="Chunks.Size"/> images at a time
/// through the whole network, one group per work item, in the plan's own buffers. A stage fuses a
/// convolution with the ReLU, BatchNormalization (inference form: a per-channel affine) and
/// 2×2 max pooling after it; 3×3 stride-1 "valid" convolutions use Winograd F(2×2, 3×3); weights
/// are transformed and packed into GEMM panels when the plan is built; Flatten is folded into the
/// next Dense's rows; Dropout is the identity. An image's outputs depend on nothing but the image
/// (no product mixes images' sums), so they are the same bits at any batch size and thread count,
/// but not the bits of the layer-by-layer path: they agree to about 1e-6.
/// </summary>
internal sealed class InferencePlan
{
    private readonly Stage[] _stages;
    private readonly int _inputSize;
    private readonly int _outputSize;
    private readonly int _activation;
    private readonly long _workFlops;
    private readonly Action<int> _runGroup;
    private WorkspaceSizes _sizes;
    private Dataset? _data;
    private unsafe float* _source;
    private float[] _result = [];
    private int _count;

    private InferencePlan(Stage[] stages, int inputSize, int outputSize, int activation, WorkspaceSizes sizes, long workFlops)
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
        return TryCreate(layers.Where(l => l is not Dropout).ToList(), input);
    }

    // layers: the model's without Dropout (the identity at inference).
    private static InferencePlan? TryCreate(List<Layer> layers, Shape input)
    {
        var stages = new List<Stage>();
        var sizes = new WorkspaceSizes();
        var shape = input;
        int activation = input.Size;
        long flops = 0;
        for (int i = 0; i < layers.Count; i++)
        {
            Stage stage;
            var layer = layers[i];
            switch (layer)
            {
                case Conv2D conv:
                    {
                        bool relu = i + 1 < layers.Count && layers[i + 1] is ReLU;
                        int j = relu ? i + 2 : i + 1;
                        var bn = j < layers.Count && layers[j] is BatchNormalization b ? b : null;
                        j += bn is null ? 0 : 1;
                        var pool = j < layers.Count && layers[j] is MaxPooling2D p ? p : null;
                        var names = new List<string> { conv.Name };
                        if (relu)
                        {
                            names.Add(layers[i + 1].Name);
                        }
                        if (bn is not null)
                        {
                            names.Add(bn.Name);
                        }
                        if (pool is not null)
                        {
                            names.Add(pool.Name);
                        }
                        stage = new ConvStage(conv, relu, bn, pool, string.Join(" + ", names));
                        i = pool is null ? j - 1 : j;
                        flops += 2L * conv.OutputShape.Size * conv.KernelSize * conv.KernelSize * conv.InputShape.Channels;
                        break;
                    }
                case Dense dense:
                    {
                        bool relu = i + 1 < layers.Count && layers[i + 1] is ReLU;
                        // A Flatten just before reorders (H, W, C) into (C, H, W): the rows of W are reordered instead.
                        var image = i > 0 && layers[i - 1] is Flatten ? layers[i - 1].InputShape : (Shape?)null;
                        stage = new DenseStage(dense, relu, image, relu ? $"{dense.Name} + {layers[i + 1].Name}" : dense.Name);
                        i += relu ? 1 : 0;
                        flops += 2L * dense.InputShape.Size * dense.Units;
                        break;
                    }
                case Flatten flatten:
                    if (i + 1 < layers.Count && layers[i + 1] is Dense)
                    {
                        continue;
                    }
                    stage = new FlattenStage(flatten);
                    break;
                case ReLU relu:
                    stage = new ReluStage(relu);
                    break;
                case BatchNormalization bn:
                    stage = new AffineStage(bn);
                    break;
                case MaxPooling2D pool:
                    stage = new PoolStage(pool);
                    break;
                case Layers.Softmax softmax:
                    stage = new SoftmaxStage(softmax);
                    break;
                default:
                    return null;
            }
            stage.Reserve(ref sizes);
            stages.Add(stage);
            shape = stage.Output;
            activation = Math.Max(activation, shape.Size);
        }
        return new InferencePlan([.. stages], input.Size, shape.Size, activation, sizes, flops);
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
    private readonly Workspace[] _idle = new Workspace[MaxIdleWorkspaces];
    private int _idleCount;
    private const int MaxIdleWorkspaces = 64;

    private Workspace RentWorkspace()
    {
        Workspace? ws = null;
        lock (_idle)
        {
            if (_idleCount > 0)
            {
                ws = _idle[--_idleCount];
                _idle[_idleCount] = null!;
            }
        }
        ws ??= new Workspace();
        ws.Ensure(_sizes, _activation * Chunks.Size);
        return ws;
    }

    private void ReturnWorkspace(Workspace ws)
    {
        lock (_idle)
        {
            if (_idleCount < _idle.Length)
            {
                _idle[_idleCount++] = ws;
            }
        }
    }

    private unsafe void RunGroup(int group, Workspace ws)
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

    /// <summary>The largest workspace each kind of buffer needs, per work item.</summary>
    internal struct WorkspaceSizes
    {
        public int Columns;
        public int Scratch;
        public int Transformed;
        public int Products;
    }

    /// <summary>One work item's buffers, owned by the plan and reused by every call.</summary>
    internal sealed class Workspace
    {
        private float[] _a = [];
        private float[] _b = [];

        public float[] Columns { get; private set; } = [];
        public float[] Scratch { get; private set; } = [];
        public float[] Transformed { get; private set; } = [];
        public float[] Products { get; private set; } = [];

        public Span<float> Activations(int which, int length) => (which == 0 ? _a : _b).AsSpan(0, length);

        public void Ensure(in WorkspaceSizes sizes, int activations)
        {
            _a = Grow(_a, activations);
            _b = Grow(_b, activations);
            Columns = Grow(Columns, sizes.Columns);
            Scratch = Grow(Scratch, sizes.Scratch);
            Transformed = Grow(Transformed, sizes.Transformed);
            Products = Grow(Products, sizes.Products);
        }

        private static float[] Grow(float[] buffer, int length) => buffer.Length >= length ? buffer : GC.AllocateArray<float>(length, pinned: true);
    }

    /// <summary>One step of the plan: reads count samples of its input shape, writes count of <see cref="Output"/>.</summary>
    private abstract class Stage(string description, Shape output)
    {
        public string Description { get; protected init; } = description;
        public Shape Output { get; } = output;
        /// <summary>Writes its output over its input (the executor then keeps the same buffer).</summary>
        public virtual bool InPlace => false;
        public virtual void Reserve(ref WorkspaceSizes sizes)
        {
        }
        // x: [count, ...input] → y: [count, ...Output]
        public abstract void Run(Span<float> x, int count, Span<float> y, Workspace ws);
    }

    /// <summary>Conv2D [+ ReLU] [+ BatchNormalization] [+ MaxPooling2D]: Winograd for 3×3 stride-1 "valid" kernels, else im2col and a GEMM with prepacked weights.</summary>
    private sealed class ConvStage : Stage
    {
        private const int GroupRows = 96;
        private readonly ConvGeometry _g;
        private readonly int _filters;
        private readonly float[] _bias;
        private readonly bool _relu;
        private readonly float[] _scale = [];
        private readonly float[] _shift = [];
        private readonly ConvGeometry? _pool;
        private readonly bool _winograd;
        // F(4×4, 3×3) rather than F(2×2, 3×3): 36 points.
        private readonly bool _four;
        private readonly int _points;
        private readonly bool _direct;
        private readonly float[] _packed;
        private readonly int _packedPoint;
        private readonly int _tileRows, _tileColumns;
        private readonly int _images;

        public ConvStage(Conv2D conv, bool relu, BatchNormalization? bn, MaxPooling2D? pool, string names)
            : base(names, pool?.OutputShape ?? bn?.OutputShape ?? conv.OutputShape)
        {
            var input = conv.InputShape;
            _g = ConvGeometry.Create(input.Height, input.Width, input.Channels, conv.KernelSize, conv.Stride, conv.Padding == Padding.Same);
            _filters = conv.Filters;
            _bias = conv.Bias.Value.ToArray();
            _relu = relu;
            if (bn is not null)
            {
                (_scale, _shift) = AffineStage.Coefficients(bn);
            }
            if (pool is not null)
            {
                _pool = ConvGeometry.Create(_g.OutHeight, _g.OutWidth, _filters, pool.PoolSize, pool.Stride, same: false);
            }
            _winograd = IsWinograd(conv, pool);
            _direct = IsDirect(conv, pool);
            Description = names + (_direct ? " (direct)" : "");
            if (_direct)
            {
                _packed = conv.Kernel.Value.ToArray();
                _images = 1;
            }
            else if (_winograd)
            {
                int c = input.Channels;
                // The larger tiles when they take fewer products (not with a fused pool: a 4×4 tile is four windows).
                var (rows2, columns2) = Winograd.Tiles(_g.OutHeight, _g.OutWidth);
                var (rows4, columns4) = Winograd4.Tiles(_g.OutHeight, _g.OutWidth);
                _four = _pool is null && rows4 * columns4 * Winograd4.Points < 0.85 * rows2 * columns2 * Winograd.Points;
                _points = _four ? Winograd4.Points : Winograd.Points;
                var u = new float[_points * c * _filters];
                if (_four)
                {
                    Winograd4.TransformWeights(conv.Kernel.Value, c, _filters, u);
                }
                else
                {
                    Winograd.TransformWeights(conv.Kernel.Value, c, _filters, u);
                }
                _packedPoint = Gemm.PackedSize(_filters, c);
                _packed = new float[_points * _packedPoint];
                for (int p = 0; p < _points; p++)
                {
                    Gemm.PackB(u.AsSpan(p * c * _filters, c * _filters), _filters, false, _filters, c, _packed.AsSpan(p * _packedPoint, _packedPoint));
                }
                // With the pool fused, each tile is one pooling window: the row or column the pool drops is never computed.
                (_tileRows, _tileColumns) = _pool is { } pg ? (pg.OutHeight, pg.OutWidth) : _four ? (rows4, columns4) : (rows2, columns2);
                _images = Math.Clamp(GroupRows / (_tileRows * _tileColumns), 1, Chunks.Size);
                Description = names + (_four ? " (Winograd 4×4)" : " (Winograd 2×2)");
            }
            else
            {
                _packed = new float[Gemm.PackedSize(_filters, _g.PatchSize)];
                Gemm.PackB(conv.Kernel.Value, _filters, false, _filters, _g.PatchSize, _packed);
                _images = Math.Clamp((GroupRows + _g.OutPixels - 1) / _g.OutPixels, 1, Chunks.Size);
            }
        }

        private static bool IsWinograd(Conv2D conv, MaxPooling2D? pool) =>
            conv.KernelSize == 3 && conv.Stride == 1 && conv.Padding == Padding.Valid && conv.InputShape.Channels >= 8
            && (pool is null || (pool.PoolSize == 2 && pool.Stride == 2));

        // A few input channels: im2col rows of K·K·C values are too short for a GEMM.
        private static bool IsDirect(Conv2D conv, MaxPooling2D? pool) =>
            conv.InputShape.Channels <= 4 && DirectConvolution.IsAccelerated(conv.Filters)
            && (pool is null || (pool.PoolSize == 2 && pool.Stride == 2));

        public override void Reserve(ref WorkspaceSizes sizes)
        {
            if (_direct)
            {
                return;
            }
            if (_winograd)
            {
                int tiles = _images * _tileRows * _tileColumns;
                sizes.Transformed = Math.Max(sizes.Transformed, _points * Winograd.PointStride(tiles * _g.Channels));
                sizes.Products = Math.Max(sizes.Products, _points * Winograd.PointStride(tiles * _filters));
                return;
            }
            sizes.Columns = Math.Max(sizes.Columns, _images * _g.OutPixels * _g.PatchSize);
            if (_pool is not null)
            {
                sizes.Scratch = Math.Max(sizes.Scratch, _images * _g.OutPixels * _filters);
            }
        }

        public override void Run(Span<float> x, int count, Span<float> y, Workspace ws)
        {
            int inSize = _g.Height * _g.Width * _g.Channels;
            int outSize = Output.Size;
            for (int i = 0; i < count; i += _images)
            {
                int images = Math.Min(_images, count - i);
                if (_direct)
                {
                    var epilogue = new ConvEpilogue(_bias, _relu, _scale, _shift, _pool is not null);
                    for (int j = 0; j < images; j++)
                    {
                        DirectConvolution.Forward(x.Slice((i + j) * inSize, inSize), _packed, _g, _filters, epilogue, y.Slice((i + j) * outSize, outSize));
                    }
                }
                else if (_winograd)
                {
                    RunWinograd(x.Slice(i * inSize, images * inSize), images, y.Slice(i * outSize, images * outSize), ws);
                }
                else
                {
                    RunGemm(x.Slice(i * inSize, images * inSize), images, y.Slice(i * outSize, images * outSize), ws);
                }
            }
        }

        // x: [images, H, W, C] → y: [images, ...Output]
        private void RunWinograd(Span<float> x, int images, Span<float> y, Workspace ws)
        {
            int c = _g.Channels;
            int perImage = _tileRows * _tileColumns;
            int tiles = images * perImage;
            int inSize = _g.Height * _g.Width * c;
            int vStride = Winograd.PointStride(tiles * c), mStride = Winograd.PointStride(tiles * _filters);
            var v = ws.Transformed.AsSpan(0, _points * vStride);
            var m = ws.Products.AsSpan(0, _points * mStride);
            for (int j = 0; j < images; j++)
            {
                if (_four)
                {
                    Winograd4.TransformInput(x.Slice(j * inSize, inSize), _g.Height, _g.Width, c, _tileRows, _tileColumns, v, j * perImage, vStride);
                }
                else
                {
                    Winograd.TransformInput(x.Slice(j * inSize, inSize), _g.Height, _g.Width, c, _tileRows, _tileColumns, v, j * perImage, vStride);
                }
            }
            for (int p = 0; p < _points; p++)
            {
                var packed = _packed.AsSpan(p * _packedPoint, _packedPoint);
                if (tiles <= Gemm.SmallRows)
                {
                    // One image of a small map (strong's 8×8 at batch 1: 4 tiles): row by row, the same sums.
                    for (int i = 0; i < tiles; i++)
                    {
                        Gemv.MultiplyPacked(v.Slice(p * vStride + i * c, c), packed, _filters, c, m.Slice(p * mStride + i * _filters, _filters), default, relu: false);
                    }
                    continue;
                }
                Gemm.MultiplyPacked(v.Slice(p * vStride, tiles * c), c, false, packed, tiles, _filters, c, m.Slice(p * mStride, tiles * _filters), _filters, accumulate: false);
            }
            var epilogue = new ConvEpilogue(_bias, _relu, _scale, _shift, _pool is not null);
            int outSize = Output.Size;
            for (int j = 0; j < images; j++)
            {
                if (_four)
                {
                    Winograd4.TransformOutput(m, j * perImage, mStride, _tileRows, _tileColumns, _filters, epilogue, y.Slice(j * outSize, outSize), _g.OutHeight, _g.OutWidth);
                }
                else
                {
                    Winograd.TransformOutput(m, j * perImage, mStride, _tileRows, _tileColumns, _filters, epilogue, y.Slice(j * outSize, outSize), _g.OutHeight, _g.OutWidth);
                }
            }
        }

        // x: [images, H, W, C] → y: [images, ...Output]
        private void RunGemm(Span<float> x, int images, Span<float> y, Workspace ws)
        {
            int patches = _g.OutPixels * _g.PatchSize;
            int inSize = _g.Height * _g.Width * _g.Channels;
            int rows = images * _g.OutPixels;
            var col = ws.Columns.AsSpan(0, images * patches);
            for (int j = 0; j < images; j++)
            {
                Convolution.Im2Col(x.Slice(j * inSize, inSize), _g, col.Slice(j * patches, patches));
            }
            // The products [rows, F]: in y, unless a pool follows.
            var z = _pool is not null ? ws.Scratch.AsSpan(0, rows * _filters) : y[..(rows * _filters)];
            if (rows <= Gemm.SmallRows)
            {
                // A 1×1 map of one image (strong's last layer at batch 1): row by row, the same sums.
                for (int i = 0; i < rows; i++)
                {
                    Gemv.MultiplyPacked(col.Slice(i * _g.PatchSize, _g.PatchSize), _packed, _filters, _g.PatchSize, z.Slice(i * _filters, _filters), _bias, _relu);
                }
            }
            else
            {
                Gemm.MultiplyPacked(col, _g.PatchSize, false, _packed, rows, _filters, _g.PatchSize, z, _filters, accumulate: false, bias: _bias, relu: _relu);
            }
            if (_scale.Length > 0)
            {
                InferencePasses.Affine(z, _scale, _shift, _filters);
            }
            if (_pool is { } pg)
            {
                int map = _g.OutPixels * _filters;
                for (int j = 0; j < images; j++)
                {
                    InferencePasses.MaxPool(z.Slice(j * map, map), pg, y.Slice(j * Output.Size, Output.Size));
                }
            }
        }
    }

    /// <summary>Dense [+ ReLU], W prepacked; after a Flatten of an image its rows follow the image's (H, W, C) order.</summary>
    private sealed class DenseStage : Stage
    {
        private readonly int _inputs;
        private readonly int _units;
        private readonly float[] _packed;
        private readonly float[] _bias;
        private readonly bool _relu;

        public DenseStage(Dense dense, bool relu, Shape? image, string description)
            : base(description, dense.OutputShape)
        {
            _inputs = dense.InputShape.Size;
            _units = dense.Units;
            _relu = relu;
            _bias = dense.Bias.Value.ToArray();
            var weights = dense.Kernel.Value.ToArray();
            if (image is { } s)
            {
                // Row ch·HW + p of W (Flatten's (C, H, W) order) becomes row p·C + ch.
                int hw = s.Height * s.Width, c = s.Channels;
                var source = dense.Kernel.Value;
                for (int p = 0; p < hw; p++)
                {
                    for (int ch = 0; ch < c; ch++)
                    {
                        source.Slice((ch * hw + p) * _units, _units).CopyTo(weights.AsSpan((p * c + ch) * _units, _units));
                    }
                }
            }
            _packed = new float[Gemm.PackedSize(_units, _inputs)];
            Gemm.PackB(weights, _units, false, _units, _inputs, _packed);
        }

        public override void Run(Span<float> x, int count, Span<float> y, Workspace ws)
        {
            if (count <= Gemm.SmallRows)
            {
                // A few rows one by one (the same sums as the packed product).
                for (int i = 0; i < count; i++)
                {
                    Gemv.MultiplyPacked(x.Slice(i * _inputs, _inputs), _packed, _units, _inputs, y.Slice(i * _units, _units), _bias, _relu);
                }
                return;
            }
            Gemm.MultiplyPacked(x, _inputs, false, _packed, count, _units, _inputs, y, _units, accumulate: false, bias: _bias, relu: _relu);
        }
    }

    /// <summary>A Flatten not followed by Dense: (H, W, C) → (C, H, W) as the layer does.</summary>
    private sealed class FlattenStage(Flatten flatten) : Stage(flatten.Name, flatten.OutputShape)
    {
        private readonly Shape _input = flatten.InputShape;

        public override void Run(Span<float> x, int count, Span<float> y, Workspace ws)
        {
            int hw = _input.Height * _input.Width, c = _input.Channels, size = _input.Size;
            for (int n = 0; n < count; n++)
            {
                for (int p = 0; p < hw; p++)
                {
                    for (int ch = 0; ch < c; ch++)
                    {
                        y[n * size + ch * hw + p] = x[n * size + p * c + ch];
                    }
                }
            }
        }
    }

    private sealed class ReluStage(ReLU relu) : Stage(relu.Name, relu.OutputShape)
    {
        public override bool InPlace => true;

        public override void Run(Span<float> x, int count, Span<float> y, Workspace ws) => Elementwise.Map<ReluOperator>(x, x);
    }

    /// <summary>BatchNormalization in inference form: γ·(x − mean)/√(var + ε) + β as x·scale + shift.</summary>
    private sealed class AffineStage : Stage
    {
        private readonly float[] _scale;
        private readonly float[] _shift;

        public AffineStage(BatchNormalization bn)
            : base(bn.Name, bn.OutputShape) => (_scale, _shift) = Coefficients(bn);

        public override bool InPlace => true;

        public static (float[] Scale, float[] Shift) Coefficients(BatchNormalization bn)
        {
            int c = bn.Gamma.Length;
            var scale = new float[c];
            var shift = new float[c];
            for (int i = 0; i < c; i++)
            {
                double s = bn.Gamma.Value[i] / Math.Sqrt((double)bn.MovingVariance[i] + bn.Epsilon);
                scale[i] = (float)s;
                shift[i] = (float)(bn.Beta.Value[i] - bn.MovingMean[i] * s);
            }
            return (scale, shift);
        }

        public override void Run(Span<float> x, int count, Span<float> y, Workspace ws) => InferencePasses.Affine(x, _scale, _shift, _scale.Length);
    }

    private sealed class PoolStage : Stage
    {
        private readonly ConvGeometry _g;

        public PoolStage(MaxPooling2D pool)
            : base(pool.Name, pool.OutputShape)
            => _g = ConvGeometry.Create(pool.InputShape.Height, pool.InputShape.Width, pool.InputShape.Channels, pool.PoolSize, pool.Stride, same: false);

        public override void Run(Span<float> x, int count, Span<float> y, Workspace ws)
        {
            int inSize = _g.Height * _g.Width * _g.Channels, outSize = Output.Size;
            for (int n = 0; n < count; n++)
            {
                InferencePasses.MaxPool(x.Slice(n * inSize, inSize), _g, y.Slice(n * outSize, outSize));
            }
        }
    }

    private sealed class SoftmaxStage(Layers.Softmax softmax) : Stage(softmax.Name, softmax.OutputShape)
    {
        public override void Run(Span<float> x, int count, Span<float> y, Workspace ws) => Kernels.Softmax.Forward(x, count, Output.Size, y);
    }
}
