using Convnet.Inference;
using System.Globalization;
using Convnet.IO.Onnx;
using Convnet.Kernels;
using Convnet.Tensors;
using Convnet.Runtime;

namespace Convnet.Layers;

/// <summary>
/// 2-D convolution over channels-last images as im2col + GEMM: for a chunk of n images,
/// col: [n·OH·OW, KH·KW·C] and y = col · W + b with W: [KH·KW·C, F] (Keras's HWIO kernel layout).
/// </summary>
public sealed class Conv2D : Layer, ILayerKind
{
    private readonly BatchReduction _reduce = new();
    private ConvGeometry _g;
    private Parameter? _kernel, _bias;
    // Training by im2col: every image's columns, kept for the weight gradient; inference: one image's per chunk.
    private float[] _col = [];
    // Whether the last Forward was in training mode: Backward needs its columns, or its input for Winograd.
    private bool _trainingForward;
    // One group's column gradient per thread (rented by a work item).
    private float[] _dcol = [];
    private readonly BufferSlots _dcolSlots = new();
    private float[] _packedKernel = [];
    private float[] _packedKernelT = [];
    // Winograd for a 3×3 stride-1 forward, with its weight gradient, and input gradient (null: im2col + GEMM).
    private WinogradConvolution? _forwardWinograd, _inputGradientWinograd;
    // The forward's Winograd gives the input gradient too (F(4×4) tiles, not over phases).
    private bool _fusedInputGradient;
    // A first layer of few channels (see TrainsDirectly): direct forward and weight gradient, no
    // columns; each chunk's weight and bias gradients in _directPartials, added in chunk order.
    private bool _direct;
    private float[] _directPartials = [];
    private Action<int>? _directGradientChunk;
    private Tensor? _directDy;
    // Conv2D → ReLU → max pool (_pool, from PlanFusion), trained directly or by Winograd: a
    // training step runs each image's map (direct: one per chunk in _directMaps; Winograd: one
    // per thread in its buffers) straight into the pool, and the gradients take each image's dy
    // from the pool in the same map (the bias's too, _poolRows), so the batch's maps (5.5 MB for
    // `simple`'s first layer, 2 MB for its second) are never written or read; set per Forward (_pooling).
    private MaxPooling2D? _pool;
    private BatchReduction.SampleRows? _poolRows;
    private bool _pooling;
    private float[] _directMaps = [];
    // A 5×5 or 6×6 stride-2 convolution (see PhasesApply): the forward Winograd convolution runs over
    // its input's phases (Kernels/SpaceToDepth), a 3×3 stride-1 convolution of 4·C channels with the
    // phase kernel, each image's phases made where they are transformed (forward and weight
    // gradient, WinogradConvolution.OverPhases); the input gradient runs by phase.
    private bool _phases;
    private PhaseInputGradient? _phaseInputGradient;
    private float[] _phaseKernel = [], _phaseKernelGradient = [];
    // Blocks of the im2col products' packed kernel and packed transposed kernel, work items of the pool.
    private readonly Action<int> _packKernelBlock, _packKernelTransposedBlock;

    /// <param name="filters">Output channels F, at least 1.</param>
    /// <param name="kernelSize">Side K of the square kernel, at least 1.</param>
    /// <param name="stride">Step between kernel positions in both directions, at least 1.</param>
    /// <param name="padding"><see cref="Padding.Valid"/> (Keras's default) or <see cref="Padding.Same"/>.</param>
    /// <param name="initializer">How <see cref="Kernel"/> is drawn when built; the bias starts at 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is outside its range; the message names it.</exception>
    public Conv2D(int filters, int kernelSize, int stride = 1, Padding padding = Padding.Valid, Initializer initializer = Initializer.GlorotUniform)
    {
        if (filters < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(filters), filters, "filters must be at least 1.");
        }
        if (kernelSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(kernelSize), kernelSize, "kernelSize must be at least 1.");
        }
        if (stride < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(stride), stride, "stride must be at least 1.");
        }
        if (!Enum.IsDefined(padding))
        {
            throw new ArgumentOutOfRangeException(nameof(padding), padding, "padding must be Valid or Same.");
        }
        Filters = filters;
        KernelSize = kernelSize;
        Stride = stride;
        Padding = padding;
        Initializer = initializer;
        _packKernelBlock = block => Gemm.PackBBlock(Kernel.Value, Filters, false, Filters, _g.PatchSize, block, _packedKernel);
        _packKernelTransposedBlock = block => Gemm.PackBBlock(Kernel.Value, Filters, true, _g.PatchSize, Filters, block, _packedKernelT);
    }

    /// <inheritdoc/>
    public static string KindName => "Conv2D";
    /// <inheritdoc/>
    public static string TokenForm => "conv<F>k<K>[s<S>][same|valid]";

    /// <inheritdoc/>
    public static Layer FromConfig(LayerConfig config) => new Conv2D(
        config.Int("filters"),
        config.Int("kernel_size"),
        config.Int("stride"),
        config.Text("padding") switch
        {
            "same" => Padding.Same,
            "valid" => Padding.Valid,
            var other => throw new FormatException($"unknown padding '{other}'"),
        });

    /// <inheritdoc/>
    public static Layer? ParseToken(string token)
    {
        var r = new SpecTokenReader(token);
        if (!r.Take("conv"))
        {
            return null;
        }
        int filters = r.Int("the number of filters after 'conv'");
        if (!r.Take("k"))
        {
            throw new FormatException(r.AtEnd ? "missing 'k<kernel size>'" : $"expected 'k<kernel size>' at '{r.Rest}'");
        }
        int kernel = r.Int("kernel size after 'k'");
        int stride = !r.Rest.StartsWith("same", StringComparison.Ordinal) && r.Take("s") ? r.Int("stride after 's'") : 1;
        var padding = r.Take("same") ? Padding.Same : r.Take("valid") ? Padding.Valid : Padding.Valid;
        r.End(TokenForm);
        return new Conv2D(filters, kernel, stride, padding);
    }

    /// <inheritdoc/>
    // ONNX Conv: X [N, C, H, W], W [F, C, K, K] (PyTorch's layout, ours to save), B [F]; group 1.
    public static OnnxLayer? FromOnnx(OnnxImportNode node)
    {
        if (node.OpType != "Conv")
        {
            return null;
        }
        if (!node.Input.IsImage)
        {
            throw node.Refuse($"needs an image input, got {node.Input}");
        }
        if (node.Int("group", 1) != 1)
        {
            throw node.Refuse($"group {node.Int("group", 1)}: convnet imports ordinary convolutions (group 1), not grouped or depthwise ones");
        }
        var dims = node.Constant(1).Dims;
        if (dims.Length != 4 || dims[2] != dims[3] || dims[0] < 1 || dims[0] > int.MaxValue || dims[2] < 1 || dims[2] > int.MaxValue)
        {
            throw node.Refuse($"weight of shape [{string.Join(", ", dims)}]: convnet imports square 2-D kernels [F, C, K, K]");
        }
        int filters = (int)dims[0];
        var (kernel, stride) = node.Window((int)dims[2]);
        var weight = node.Weight(1, filters, node.Input.Channels, kernel, kernel);
        var bias = node.Has(2) ? node.Weight(2, filters) : new float[filters];
        return new(new Conv2D(filters, kernel, stride, node.ConvPadding(kernel, stride)), [weight, bias]);
    }

    /// <inheritdoc/>
    public override string FormatToken() => string.Create(CultureInfo.InvariantCulture,
        $"conv{Filters}k{KernelSize}{(Stride == 1 ? "" : "s" + LayerConfig.Of(Stride))}{(Padding == Padding.Same ? "same" : "")}");

    /// <summary>Output channels F.</summary>
    public int Filters { get; }
    /// <summary>Side K of the square kernel.</summary>
    public int KernelSize { get; }
    /// <summary>Step between kernel positions, in both directions.</summary>
    public int Stride { get; }
    /// <summary>Whether the input is zero-padded (<see cref="Padding.Same"/>) or not (<see cref="Padding.Valid"/>).</summary>
    public Padding Padding { get; }
    /// <summary>How <see cref="Kernel"/> is drawn when the layer is built (fan-in K·K·C, fan-out K·K·F, as Keras); not part of <see cref="Config"/>.</summary>
    public Initializer Initializer { get; }
    /// <inheritdoc/>
    public override string TypeName => KindName;

    /// <summary>Set by <see cref="PlanFusion"/> when a ReLU follows: the output is rectified in the GEMM epilogue.</summary>
    internal bool FuseRelu { get; private set; }

    /// <inheritdoc/>
    protected internal override bool CanRectifyOutput => true;

    /// <inheritdoc/>
    protected internal override void PlanFusion(Layer? previous, Layer? next, Layer? afterNext)
    {
        FuseRelu = next is ReLU;
        _pool = FuseRelu ? afterNext as MaxPooling2D : null;
        _poolRows = _pool is null ? null : _pool.InputGradientSample;
    }

    /// <inheritdoc/>
    internal override bool CompileInference(InferenceCompiler compiler)
    {
        compiler.Add(new ConvStage(InputShape, Filters, KernelSize, Stride, Padding == Padding.Same, Kernel.Value, Bias.Value, Name, OutputShape));
        return true;
    }

    /// <summary>[KH, KW, C, F].</summary>
    public Parameter Kernel => _kernel ?? throw new InvalidOperationException("Not built.");

    /// <summary>[F].</summary>
    public Parameter Bias => _bias ?? throw new InvalidOperationException("Not built.");

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, string> Config => new Dictionary<string, string>
    {
        ["filters"] = Filters.ToString(CultureInfo.InvariantCulture),
        ["kernel_size"] = KernelSize.ToString(CultureInfo.InvariantCulture),
        ["stride"] = Stride.ToString(CultureInfo.InvariantCulture),
        ["padding"] = Padding == Padding.Same ? "same" : "valid",
    };

    /// <inheritdoc/>
    // PyTorch's Conv2d: weight [out, in, kh, kw], bias [out]
    public override IReadOnlyList<TensorDeclaration> DeclareTensors(Shape input) =>
        [new("weight", Filters, input.Channels, KernelSize, KernelSize), new("bias", Filters)];

    /// <inheritdoc/>
    public override float[][] SaveOwnTensors()
    {
        var weight = new float[Kernel.Length];
        Layouts.HwioToOihw(Kernel.Value, KernelSize, InputShape.Channels, Filters, weight);
        return [weight, Bias.Value.ToArray()];
    }

    /// <inheritdoc/>
    public override void LoadOwnTensors(IReadOnlyList<float[]> tensors)
    {
        Layouts.OihwToHwio(tensors[0], KernelSize, InputShape.Channels, Filters, Kernel.Value);
        tensors[1].CopyTo(Bias.Value);
    }

    /// <inheritdoc/>
    // Training by im2col keeps every image's columns (and one group's column gradient per thread, at most one per chunk); both GEMMs pack W.
    // By Winograd: per-thread transforms, and the weight gradient's partial sums per chunk.
    public override long BufferValues(Shape input, int batch)
    {
        var g = ConvGeometry.Create(input.Height, input.Width, input.Channels, KernelSize, Stride, Padding == Padding.Same);
        long patch = (long)KernelSize * KernelSize * input.Channels;
        long kernel = patch * Filters;
        long columns = (long)g.OutHeight * g.OutWidth * patch;
        int threads = Math.Min(Environment.ProcessorCount, Chunks.Count(batch)), chunks = Chunks.Count(batch);
        long keptColumns = batch, scratch = 0;
        if (TrainsDirectly(g, Filters))
        {
            // No columns; each chunk's weight and bias gradients.
            keptColumns = 0;
            scratch += chunks * (kernel + Filters);
        }
        // Winograd runs the convolution itself, or the 3×3 one over its phases (a phase image per
        // thread, the phase kernel and its gradient, the input gradient by phase).
        var wg = g;
        if (PhasesApply(g, Filters))
        {
            wg = PhaseGeometry(g);
            scratch += (long)threads * wg.Height * wg.Width * wg.Channels + 2L * wg.PatchSize * Filters;
        }
        // With F(4×4) tiles (not over phases) the forward's instance gives the input gradient too.
        bool fusedInputGradient = !PhasesApply(g, Filters) && WinogradConvolution.Applies(wg, wg.Channels) && WinogradConvolution.GivesInputGradientFor(wg.OutHeight, wg.OutWidth);
        if (WinogradConvolution.Applies(wg, wg.Channels))
        {
            scratch += WinogradConvolution.BufferValues(wg.Channels, wg.PadTop, wg.OutHeight, wg.OutWidth, Filters, threads, chunks, fusedInputGradient);
            keptColumns = 0;
        }
        if (PhasesApply(g, Filters) && WinogradConvolution.Applies(wg, Filters))
        {
            scratch += PhaseInputGradient.BufferValues(g, Filters, threads, batch);
        }
        else if (!fusedInputGradient && WinogradConvolution.Applies(wg, Filters))
        {
            scratch += WinogradConvolution.BufferValues(Filters, 2 - wg.PadTop, wg.Height, wg.Width, wg.Channels, threads);
        }
        return base.BufferValues(input, batch) + (keptColumns + chunks * ImagesPerProduct(g.OutPixels)) * columns + 2 * kernel + scratch;
    }

    /// <summary>
    /// How many images share one GEMM: enough for about <see cref="GroupRows"/> rows of columns. A small
    /// output map (the 3×3 or 1×1 of a last convolution) as a product of its own has too few rows for
    /// the microkernel's 6-row panels; grouping images does not change any output's sum (each is the
    /// same k-blocked dot product), so results are the same bits.
    /// </summary>
    private static int ImagesPerProduct(int outPixels) => Math.Clamp((GroupRows + outPixels - 1) / outPixels, 1, Chunks.Size);

    private const int GroupRows = 64;

    /// <summary>
    /// Whether a convolution of this shape trains by <see cref="DirectConvolution"/> (forward, weight
    /// and bias gradients) rather than im2col + GEMM: a first layer of at most 3 channels whose
    /// patches have at most 27 values, where the columns' rows are too short for a GEMM to pay and
    /// their im2col costs as much again (docs/benchmarks.md, "Direct convolution and stride-2 phases
    /// in training").
    /// </summary>
    private static bool TrainsDirectly(in ConvGeometry g, int filters) =>
        g.Channels <= 3 && g.PatchSize <= 27 && DirectConvolution.IsAccelerated(filters);

    /// <summary>
    /// Whether a convolution of this shape runs by Winograd over its input's phases: stride 2, a
    /// square kernel of 5 or 6 (phase kernels of 3×3), at least 2 channels (8 phase channels), an
    /// output map of at least 8×8 pixels, and not <see cref="TrainsDirectly"/>. Its 3×3 convolution of
    /// 4·C channels takes 2.8× fewer products than the 5×5 one by F(4×4); on smaller maps (one tile
    /// per image) the weight gradient's products are too short to pay (docs/benchmarks.md, "Direct
    /// convolution and stride-2 phases in training").
    /// </summary>
    private static bool PhasesApply(in ConvGeometry g, int filters) =>
        g.Stride == 2 && g.KernelHeight == g.KernelWidth && SpaceToDepth.Taps(g.KernelHeight) == 3 && g.Channels >= 2
        && g.OutPixels >= 64 && !TrainsDirectly(g, filters);

    // The 3×3 stride-1 "valid" convolution the phases run: [H', W', 4·C] → [OH, OW, F].
    private static ConvGeometry PhaseGeometry(in ConvGeometry g)
    {
        var (height, width) = SpaceToDepth.Size(g);
        return ConvGeometry.Create(height, width, 4 * g.Channels, 3, 1, same: false);
    }

    private int Group => ImagesPerProduct(_g.OutPixels);

    /// <inheritdoc/>
    public override Shape ComputeOutputShape(Shape input)
    {
        if (!input.IsImage)
        {
            throw new ArgumentException($"Conv2D needs an image input (H, W, C), got {input}.");
        }
        var g = ConvGeometry.Create(input.Height, input.Width, input.Channels, KernelSize, Stride, Padding == Padding.Same);
        if (g.OutHeight < 1 || g.OutWidth < 1)
        {
            throw new ArgumentException($"Conv2D kernel {KernelSize}×{KernelSize} with 'valid' padding does not fit input {input}.");
        }
        return Shape.Image(g.OutHeight, g.OutWidth, Filters);
    }

    /// <inheritdoc/>
    protected override void OnBuild(LayerContext context)
    {
        _g = ConvGeometry.Create(InputShape.Height, InputShape.Width, InputShape.Channels, KernelSize, Stride, Padding == Padding.Same);
        _kernel = AddParameter(context, "kernel", KernelSize, KernelSize, InputShape.Channels, Filters);
        _bias = AddParameter(context, "bias", Filters);
        var rng = context.CreateRng();
        int receptive = KernelSize * KernelSize;
        Initializers.Fill(Initializer, _kernel.Value, receptive * InputShape.Channels, receptive * Filters, ref rng);
    }

    /// <inheritdoc/>
    public override void EnsureCapacity(int batch)
    {
        base.EnsureCapacity(batch);
        _direct = TrainsDirectly(_g, Filters);
        if (_direct)
        {
            _directGradientChunk ??= DirectGradientChunk;
            int partials = Chunks.Count(batch) * (_g.PatchSize * Filters + Filters);
            if (_directPartials.Length < partials)
            {
                _directPartials = new float[partials];
            }
        }
        _phases = PhasesApply(_g, Filters);
        // Winograd runs the convolution itself, or the 3×3 one over its phases.
        var wg = _phases ? PhaseGeometry(_g) : _g;
        if (_forwardWinograd is null && _phases && WinogradConvolution.Applies(wg, wg.Channels))
        {
            _forwardWinograd = WinogradConvolution.OverPhases(_g, Filters);
        }
        else if (_forwardWinograd is null && WinogradConvolution.Applies(wg, wg.Channels))
        {
            _forwardWinograd = new WinogradConvolution(wg.Height, wg.Width, wg.Channels, wg.PadTop, wg.OutHeight, wg.OutWidth, Filters);
        }
        // dx by phase; in the forward's transformed domain (F(4×4) tiles); or as dy padded by 2 − pad,
        // correlated with the kernel turned 180° (channels swapped).
        _fusedInputGradient = ComputeInputGradient && !_phases && _forwardWinograd is not null && WinogradConvolution.GivesInputGradientFor(wg.OutHeight, wg.OutWidth);
        if (ComputeInputGradient && _phases && WinogradConvolution.Applies(wg, Filters))
        {
            _phaseInputGradient ??= new PhaseInputGradient(_g, Filters);
        }
        else if (ComputeInputGradient && !_fusedInputGradient && _inputGradientWinograd is null && WinogradConvolution.Applies(wg, Filters))
        {
            _inputGradientWinograd = new WinogradConvolution(wg.OutHeight, wg.OutWidth, Filters, 2 - wg.PadTop, wg.Height, wg.Width, wg.Channels);
        }
        if (_phases)
        {
            _phaseKernel = _phaseKernel.Length > 0 ? _phaseKernel : new float[wg.PatchSize * Filters];
            _phaseKernelGradient = _phaseKernelGradient.Length > 0 ? _phaseKernelGradient : new float[wg.PatchSize * Filters];
        }
        // Buffers for the chunks run at once (Forward calls this for every batch: a new pool is seen).
        int threads = Math.Min(Pool.ThreadCount, Chunks.Count(batch));
        _forwardWinograd?.EnsureCapacity(threads, Chunks.Count(batch), pooled: _pool is not null);
        _inputGradientWinograd?.EnsureCapacity(threads);
        _phaseInputGradient?.EnsureCapacity(threads, batch);
        _packedKernel = _packedKernel.Length > 0 || _forwardWinograd is not null || _direct ? _packedKernel : new float[Gemm.PackedSize(Filters, _g.PatchSize)];
        if (!ComputeInputGradient || _fusedInputGradient || _inputGradientWinograd is not null || _phaseInputGradient is not null)
        {
            return;
        }
        _packedKernelT = _packedKernelT.Length > 0 ? _packedKernelT : new float[Gemm.PackedSize(_g.PatchSize, Filters)];
        // One group's column gradient per thread: small enough to stay in L2 between GEMM and col2im.
        int dcolLength = Pool.ThreadCount * Group * _g.OutPixels * _g.PatchSize;
        if (_dcolSlots.EnsureCapacity(Pool.ThreadCount) || _dcol.Length < dcolLength)
        {
            _dcol = GC.AllocateArray<float>(dcolLength, pinned: true);
        }
    }

    /// <inheritdoc/>
    // x: [N, H, W, C] → y: [N, OH, OW, F]
    public override Tensor Forward(Tensor x, bool training)
    {
        StartForward(x);
        // Sized here, where the mode is known: inference needs one image's columns per chunk, not the
        // batch's (an inference batch of 256 would hold ~170 MB of columns in one layer of `strong`).
        _trainingForward = training;
        int colLength = (_forwardWinograd is not null || _direct ? 0 : training ? x.Batch : Chunks.Count(x.Batch) * Group) * _g.OutPixels * _g.PatchSize;
        if (_col.Length < colLength)
        {
            _col = GC.AllocateArray<float>(colLength, pinned: true);
        }
        if (_phases)
        {
            SpaceToDepth.TransformWeights(Kernel.Value, KernelSize, _g.Channels, Filters, _phaseKernel);
            _forwardWinograd!.SetKernel(_phaseKernel, rotated: false, Pool);
        }
        else if (_forwardWinograd is not null)
        {
            _forwardWinograd.SetKernel(Kernel.Value, rotated: false, Pool);
        }
        else if (!_direct)
        {
            // W: [K, F], packed once for every image of the batch, in blocks on the pool's threads.
            Pool.For(Gemm.PackBBlockCount(Filters, _g.PatchSize), _packKernelBlock);
        }
        // Pooled image by image when no pass needs the whole map: not the input gradient by GEMM or
        // by a Winograd of its own, which read dy whole.
        _pooling = training && _pool is { PoolsSamples: true }
            && (_direct ? !ComputeInputGradient : _forwardWinograd is not null && !_phases && (!ComputeInputGradient || _fusedInputGradient));
        if (_pooling)
        {
            int maps = _direct ? Chunks.Count(x.Batch) * OutputShape.Size : 0;
            if (_directMaps.Length < maps)
            {
                _directMaps = new float[maps];
            }
            _pool!.StartProducedForward(Y);
        }
        else
        {
            _pool?.CancelProducedForward();
        }
        ForwardChunks();
        return Y;
    }

    /// <inheritdoc/>
    // Each image on its own, by whole groups of images (the direct kernel, Winograd, or im2col's
    // products in training, whose columns are the batch's), unless pooled image by image (the
    // direct kernel's map is the chunk's) or im2col's columns are a chunk's (inference).
    protected override int ForwardItemSamples =>
        _pooling ? Chunks.Size
        : _direct ? Chunks.Part
        : _forwardWinograd is not null ? _forwardWinograd.ItemImages
        : _trainingForward ? Chunks.PartOf(Group) : Chunks.Size;

    /// <inheritdoc/>
    // By whole groups of images: by Winograd (over phases or not), or im2col's GEMM and col2im.
    protected override int BackwardItemSamples =>
        _phaseInputGradient is not null ? _phaseInputGradient.ItemImages
        : _inputGradientWinograd is not null ? _inputGradientWinograd.ItemImages : Chunks.PartOf(Group);

    /// <inheritdoc/>
    // An image of the direct kernel, a group of Winograd's or of im2col's products (each image's own).
    protected override int ForwardRunSamples =>
        _pooling ? Chunks.Size
        : _direct ? 1
        : _forwardWinograd is not null ? _forwardWinograd.RunImages
        : _trainingForward ? RunOf(Group, ForwardItemSamples) : Chunks.Size;

    /// <inheritdoc/>
    protected override int BackwardRunSamples =>
        _phaseInputGradient is not null ? _phaseInputGradient.RunImages
        : _inputGradientWinograd is not null ? _inputGradientWinograd.RunImages : RunOf(Group, BackwardItemSamples);

    // A group of images when groups divide the item, else the item.
    private static int RunOf(int group, int item) => item % group == 0 ? group : item;

    /// <inheritdoc/>
    protected override void ForwardChunk(int chunk, int start, int count)
    {
        if (_direct)
        {
            var epilogue = new ConvEpilogue(Bias.Value, FuseRelu, default, default, pool2: false);
            var map = _pooling ? _directMaps.AsSpan(chunk * OutputShape.Size, OutputShape.Size) : default;
            for (int i = start; i < start + count; i++)
            {
                DirectConvolution.Forward(X!.Sample(i), Kernel.Value, _g, Filters, epilogue, _pooling ? map : Y!.Sample(i));
                if (_pooling)
                {
                    _pool!.ForwardSample(map, i);
                }
            }
            return;
        }
        // By Winograd, over the input's phases or not (a convolution over phases is never pooled here).
        if (_forwardWinograd is not null)
        {
            _forwardWinograd.Run(X!.Samples(start, count), count, Bias.Value, FuseRelu, Y!.Samples(start, count), _pooling ? _pool : null, start);
            return;
        }
        int patches = _g.OutPixels * _g.PatchSize;
        // A group of images at a time (one image unless the map is small), so the columns are still
        // in cache when the GEMM reads them.
        for (int i = start; i < start + count; i += Group)
        {
            int images = Math.Min(Group, start + count - i);
            var col = _col.AsSpan((_trainingForward ? i : chunk * Group) * patches, images * patches);
            for (int j = 0; j < images; j++)
            {
                Convolution.Im2Col(X!.Sample(i + j), _g, col.Slice(j * patches, patches));
            }
            Gemm.MultiplyPacked(col, _g.PatchSize, false, _packedKernel, images * _g.OutPixels, Filters, _g.PatchSize, Y!.Samples(i, images), Filters, accumulate: false, bias: Bias.Value, relu: FuseRelu);
        }
    }

    /// <inheritdoc/>
    // dy: [N, OH, OW, F] → dW += colᵀ·dy (or by Winograd from x and dy), db += Σ dy, dx = col2im(dy·Wᵀ) (or by Winograd)
    public override Tensor? Backward(Tensor dy)
    {
        if (!_trainingForward)
        {
            throw new InvalidOperationException("Conv2D.Backward needs a training-mode Forward: an inference Forward keeps neither the columns nor the input.");
        }
        int batch = dy.Batch;
        if (_direct)
        {
            AccumulateDirectGradients(dy);
        }
        else
        {
            int rows = batch * _g.OutPixels;
            var store = dy.Data;
            if (_phases)
            {
                // The phase kernel's gradient, folded back onto the kernel's taps.
                Array.Clear(_phaseKernelGradient);
                _forwardWinograd!.AccumulateKernelGradient(Pool, X!, dy, _phaseKernelGradient, 0);
                SpaceToDepth.AccumulateKernelGradient(_phaseKernelGradient, KernelSize, _g.Channels, Filters, Kernel.Gradient);
            }
            else if (_forwardWinograd is not null)
            {
                // With F(4×4) tiles the input gradient comes from the same transformed output gradient, in the same pass.
                if (_fusedInputGradient)
                {
                    StartBackward(dy);
                    Dx!.SetBatch(batch);
                    _forwardWinograd.SetKernelTransposed(Pool);
                }
                _forwardWinograd.AccumulateKernelGradient(Pool, X!, dy, Kernel.GradientBuffer, Kernel.Offset, _fusedInputGradient ? Dx : null, _pooling ? _pool : null);
            }
            else
            {
                _reduce.Accumulate(Pool, _col, 0, store, 0, rows, _g.PatchSize, Filters, Kernel.GradientBuffer, Kernel.Offset);
            }
            if (_pooling)
            {
                _reduce.AccumulateColumnSums(Pool, _poolRows!, batch, _g.OutPixels, Filters, Bias.GradientBuffer, Bias.Offset);
            }
            else
            {
                _reduce.AccumulateColumnSums(Pool, store, 0, rows, Filters, Bias.GradientBuffer, Bias.Offset);
            }
        }
        if (!ComputeInputGradient)
        {
            return null;
        }
        if (_fusedInputGradient)
        {
            // Written with the kernel gradient above.
            return Dx;
        }
        StartBackward(dy);
        Dx!.SetBatch(batch);
        if (_phaseInputGradient is not null)
        {
            _phaseInputGradient.SetKernel(_phaseKernel, Pool);
        }
        else if (_inputGradientWinograd is not null)
        {
            _inputGradientWinograd.SetKernel(Kernel.Value, rotated: true, Pool);
        }
        else
        {
            // Wᵀ: [F, K], packed once for every image of the batch, in blocks on the pool's threads.
            Pool.For(Gemm.PackBBlockCount(_g.PatchSize, Filters), _packKernelTransposedBlock);
        }
        BackwardChunks();
        return Dx;
    }

    // dW += Σ patchᵀ·dy, db += Σ dy by the direct kernel: each chunk's sums from 0 (whichever
    // thread runs it), then added to the gradients in chunk order, so the bits do not depend on the threads.
    private void AccumulateDirectGradients(Tensor dy)
    {
        _directDy = dy;
        int chunks = Chunks.Count(dy.Batch);
        Pool.For(chunks, _directGradientChunk!);
        _directDy = null;
        int size = _g.PatchSize * Filters;
        for (int c = 0; c < chunks; c++)
        {
            var partial = _directPartials.AsSpan(c * (size + Filters), size + Filters);
            Elementwise.Map<AddOperator>(Kernel.Gradient, partial[..size], Kernel.Gradient);
            Elementwise.Map<AddOperator>(Bias.Gradient, partial[size..], Bias.Gradient);
        }
    }

    private void DirectGradientChunk(int chunk)
    {
        int size = _g.PatchSize * Filters;
        var partial = _directPartials.AsSpan(chunk * (size + Filters), size + Filters);
        partial.Clear();
        var dy = _directDy!;
        var map = _pooling ? _directMaps.AsSpan(chunk * OutputShape.Size, OutputShape.Size) : default;
        var (start, count) = Chunks.Range(chunk, dy.Batch);
        for (int i = start; i < start + count; i++)
        {
            // Pooled: dy is the pool's dx, never written whole (the dy passed in), made here image by image.
            if (_pooling)
            {
                _pool!.InputGradientSample(i, map);
            }
            DirectConvolution.WeightGradient(X!.Sample(i), _pooling ? map : dy.Sample(i), _g, Filters, partial[..size], partial[size..]);
        }
    }

    /// <inheritdoc/>
    protected override void BackwardChunk(int chunk, int start, int count)
    {
        if (_phaseInputGradient is not null)
        {
            _phaseInputGradient.Run(start, Dy!.Samples(start, count), count, Dx!.Samples(start, count));
            return;
        }
        if (_inputGradientWinograd is not null)
        {
            _inputGradientWinograd.Run(Dy!.Samples(start, count), count, default, relu: false, Dx!.Samples(start, count));
            return;
        }
        // dcol has its own buffer: the forward columns must survive for a further Backward of the same Forward.
        int groupSize = Group * _g.OutPixels * _g.PatchSize;
        int slot = _dcolSlots.Rent();
        try
        {
            BackwardByColumns(_dcol.AsSpan(slot * groupSize, groupSize), start, count);
        }
        finally
        {
            _dcolSlots.Return(slot);
        }
    }

    // dx = col2im(dy·Wᵀ) of images [start, start + count), a group at a time through dcol.
    private void BackwardByColumns(Span<float> dcol, int start, int count)
    {
        int patches = _g.OutPixels * _g.PatchSize;
        for (int i = start; i < start + count; i += Group)
        {
            int images = Math.Min(Group, start + count - i);
            var group = dcol[..(images * patches)];
            Gemm.MultiplyPacked(Dy!.Samples(i, images), Filters, false, _packedKernelT, images * _g.OutPixels, _g.PatchSize, Filters, group, _g.PatchSize, accumulate: false);
            for (int j = 0; j < images; j++)
            {
                var dx = Dx!.Sample(i + j);
                dx.Clear();
                Convolution.Col2Im(group.Slice(j * patches, patches), _g, dx);
            }
        }
    }

    /// <inheritdoc/>
    // Conv on NCHW with the OIHW weight SaveOwnTensors gives; "same" pads as ConvGeometry does (the odd pixel at the bottom/right).
    public override string ExportOnnx(OnnxGraphBuilder graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var t = SaveOwnTensors();
        string weight = graph.AddInitializer($"{Name}.weight", [Filters, InputShape.Channels, KernelSize, KernelSize], t[0]);
        string bias = graph.AddInitializer($"{Name}.bias", [Filters], t[1]);
        var g = ConvGeometry.Create(InputShape.Height, InputShape.Width, InputShape.Channels, KernelSize, Stride, Padding == Padding.Same);
        long padBottom = Math.Max((g.OutHeight - 1) * Stride + KernelSize - InputShape.Height - g.PadTop, 0);
        long padRight = Math.Max((g.OutWidth - 1) * Stride + KernelSize - InputShape.Width - g.PadLeft, 0);
        return graph.AddNode("Conv", [input, weight, bias], Name,
            OnnxAttribute.Of("kernel_shape", KernelSize, (long)KernelSize),
            OnnxAttribute.Of("strides", Stride, (long)Stride),
            OnnxAttribute.Of("pads", g.PadTop, g.PadLeft, padBottom, padRight));
    }
}
