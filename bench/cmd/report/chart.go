package main

import (
	"image"
	"image/color"
	"image/draw"
	"math"
	"slices"
)

var (
	white     = color.RGBA{255, 255, 255, 255}
	black     = color.RGBA{20, 20, 20, 255}
	gray      = color.RGBA{110, 110, 110, 255}
	gridColor = color.RGBA{225, 225, 225, 255}

	// policyColors keeps each policy's colour the same in every chart.
	policyColors = map[string]color.RGBA{
		"numcpu":        {150, 150, 150, 255},
		"runtime":       {31, 119, 180, 255},
		"automaxprocs":  {255, 127, 14, 255},
		"automemlimit":  {148, 103, 189, 255},
		"snug":          {44, 160, 44, 255},
		"snug-floor":    {152, 223, 138, 255},
		"snug-adaptive": {214, 39, 40, 255},
		"snug-ceil":     {23, 190, 207, 255},
		"snug-runtime":  {188, 189, 34, 255},
	}
	otherColor = color.RGBA{140, 86, 75, 255}
)

func colorOf(policy string) color.RGBA {
	if c, ok := policyColors[policy]; ok {
		return c
	}
	return otherColor
}

// panelSpec is one plot of the chart: a metric over the CPU cases.
type panelSpec struct {
	unit, title string
}

// chart draws, for each metric, the median of every CPU case as a bar
// grouped by quota and coloured by policy, with the range over the runs as
// a whisker, on a log scale (pauses span microseconds to tens of
// milliseconds). footer is a line about where the numbers come from.
func chart(cases []*benchCase, footer string, procs func(policy, quota string) int) *image.RGBA {
	var cpu []*benchCase
	var quotas, policies []string
	for _, c := range cases {
		if c.family != "CPU" {
			continue
		}
		cpu = append(cpu, c)
		if !slices.Contains(quotas, c.quota) {
			quotas = append(quotas, c.quota)
		}
		if !slices.Contains(policies, c.policy) {
			policies = append(policies, c.policy)
		}
	}
	slices.SortStableFunc(quotas, func(a, b string) int {
		return int(math.Copysign(1, quotaOrder(a)-quotaOrder(b)))
	})
	slices.SortStableFunc(policies, func(a, b string) int { return policyOrder(a) - policyOrder(b) })

	panels := []panelSpec{
		{"stw-p99-ns", "GC stop-the-world pause, p99 (stw-p99-ns)"},
		{"req-p99-ns", "Request latency from scheduled send, p99 (req-p99-ns)"},
	}
	const (
		width   = 1400
		titleH  = 56
		panelH  = 380
		legendH = 50
		footerH = 34
	)
	height := titleH + len(panels)*panelH + legendH + footerH
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), &image.Uniform{white}, image.Point{}, draw.Src)

	title := "GOMAXPROCS policies under CFS quotas: lower is better"
	drawText(img, (width-textWidth(title, 3))/2, 14, title, 3, black)

	for i, p := range panels {
		top := titleH + i*panelH
		drawPanel(img, image.Rect(0, top, width, top+panelH), p, cpu, quotas, policies, procs)
	}

	// Legend: one swatch per policy, centred.
	y := titleH + len(panels)*panelH + 14
	total := 0
	for _, p := range policies {
		total += 22 + textWidth(p, 2) + 30
	}
	x := (width - total) / 2
	for _, p := range policies {
		fillRect(img, image.Rect(x, y, x+16, y+16), colorOf(p))
		drawText(img, x+22, y+1, p, 2, black)
		x += 22 + textWidth(p, 2) + 30
	}
	drawText(img, (width-textWidth(footer, 1))/2, height-footerH+10, footer, 1, gray)
	return img
}

func drawPanel(img *image.RGBA, r image.Rectangle, p panelSpec, cases []*benchCase, quotas, policies []string, procs func(policy, quota string) int) {
	const left, right, top, bottom = 120, 30, 44, 58
	plot := image.Rect(r.Min.X+left, r.Min.Y+top, r.Max.X-right, r.Max.Y-bottom)
	drawText(img, plot.Min.X, r.Min.Y+14, p.title, 2, black)

	// Log scale over whole decades that hold every whisker.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, c := range cases {
		s, ok := c.metrics[p.unit]
		if !ok || s.n == 0 {
			continue
		}
		if s.min > 0 {
			lo = math.Min(lo, s.min)
		}
		hi = math.Max(hi, s.max)
	}
	if math.IsInf(lo, 1) || hi <= 0 {
		drawText(img, plot.Min.X, plot.Min.Y+20, "no data", 2, gray)
		return
	}
	dlo, dhi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if dhi <= dlo {
		dhi = dlo + 1
	}
	yOf := func(v float64) int {
		if v <= 0 {
			return plot.Max.Y
		}
		f := (math.Log10(v) - dlo) / (dhi - dlo)
		return plot.Max.Y - int(math.Round(f*float64(plot.Dy())))
	}
	for d := dlo; d <= dhi; d++ {
		v := math.Pow(10, d)
		y := yOf(v)
		hline(img, plot.Min.X, plot.Max.X, y, gridColor)
		label := formatNs(v)
		drawText(img, plot.Min.X-10-textWidth(label, 2), y-7, label, 2, black)
		if d < dhi {
			for _, m := range []float64{2, 5} {
				hline(img, plot.Min.X, plot.Max.X, yOf(m*v), color.RGBA{242, 242, 242, 255})
			}
		}
	}
	vline(img, plot.Min.X, plot.Min.Y, plot.Max.Y, black)
	hline(img, plot.Min.X, plot.Max.X, plot.Max.Y, black)
	drawTextUp(img, r.Min.X+8, plot.Max.Y-10, "log scale", 2, gray)
	drawText(img, plot.Min.X-10-textWidth("GOMAXPROCS", 1), plot.Max.Y+6, "GOMAXPROCS", 1, gray)

	groupW := plot.Dx() / len(quotas)
	barW := (groupW - 30) / len(policies)
	for qi, q := range quotas {
		gx := plot.Min.X + qi*groupW + 15
		label := "quota " + q + " CPU"
		if q == "none" {
			label = "no quota"
		}
		drawText(img, gx+(groupW-30-textWidth(label, 2))/2, plot.Max.Y+24, label, 2, black)
		for pi, pol := range policies {
			c := find(cases, q, pol)
			if c == nil {
				continue
			}
			s, ok := c.metrics[p.unit]
			if !ok || s.n == 0 {
				continue
			}
			x0 := gx + pi*barW + 2
			x1 := x0 + barW - 4
			fillRect(img, image.Rect(x0, yOf(s.median), x1, plot.Max.Y), colorOf(pol))
			// Whisker: the range over the runs.
			mid := (x0 + x1) / 2
			if s.max > s.min {
				vline(img, mid, yOf(s.max), yOf(s.min), black)
				hline(img, mid-4, mid+4, yOf(s.max), black)
				hline(img, mid-4, mid+4, yOf(s.min), black)
			}
			v := formatNs(s.median)
			drawText(img, mid-textWidth(v, 1)/2, yOf(s.max)-11, v, 1, black)
			n := "P=" + procsLabel(procs(pol, q))
			drawText(img, mid-textWidth(n, 1)/2, plot.Max.Y+6, n, 1, gray)
		}
	}
}

func fillRect(img *image.RGBA, r image.Rectangle, c color.Color) {
	draw.Draw(img, r, &image.Uniform{c}, image.Point{}, draw.Src)
}

func hline(img *image.RGBA, x0, x1, y int, c color.Color) {
	for x := x0; x <= x1; x++ {
		img.Set(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.Color) {
	if y0 > y1 {
		y0, y1 = y1, y0
	}
	for y := y0; y <= y1; y++ {
		img.Set(x, y, c)
	}
}
